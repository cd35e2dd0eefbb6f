output "cluster_name" {
  description = "EKS cluster: aws eks update-kubeconfig --name <this>."
  value       = module.eks.cluster_name
}

output "cluster_endpoint" {
  description = "API server endpoint."
  value       = module.eks.cluster_endpoint
}

output "postgres_endpoint" {
  description = "PostgreSQL host (private)."
  value       = module.postgres.endpoint
}

output "redis_endpoint" {
  description = "Redis primary endpoint (private, TLS)."
  value       = module.redis.primary_endpoint
}

output "bybit_secret_names" {
  description = "Secrets Manager secrets to fill with each subaccount's API key."
  value       = module.secrets.bybit_secret_names
}

output "kms_key_arn" {
  description = "The environment's encryption key."
  value       = module.kms.key_arn
}

output "egress_ips" {
  description = "Public egress addresses (NAT): the IP whitelist of every Bybit API key."
  value       = module.network.nat_public_ips
}
