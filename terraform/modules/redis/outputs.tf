output "primary_endpoint" {
  description = "Primary endpoint host (TLS on 6379)."
  value       = aws_elasticache_replication_group.this.primary_endpoint_address
}

output "secret_arn" {
  description = "Secrets Manager secret with auth_token, host and port."
  value       = aws_secretsmanager_secret.auth.arn
}

output "security_group_id" {
  description = "Security group of the replication group."
  value       = aws_security_group.this.id
}
