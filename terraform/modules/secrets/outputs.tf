output "external_secrets_role_arn" {
  description = "IAM role External Secrets assumes through IRSA."
  value       = aws_iam_role.eso.arn
}

output "bybit_secret_names" {
  description = "Secrets Manager names to fill with each account's {\"apiKey\", \"apiSecret\"}."
  value       = { for k, s in aws_secretsmanager_secret.bybit : k => s.name }
}

output "cluster_secret_store" {
  description = "Name of the ClusterSecretStore the fleet's ExternalSecrets reference."
  value       = "aws-secrets-manager"
}
