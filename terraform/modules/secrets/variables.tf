variable "name" {
  description = "Environment prefix of the secret names and IAM role, e.g. eternal-prod."
  type        = string
}

variable "secret_prefix" {
  description = "Secrets Manager path of this environment's secrets, e.g. eternal/prod."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key that encrypts the secrets (External Secrets is allowed to decrypt with it)."
  type        = string
}

variable "oidc_provider_arn" {
  description = "ARN of the cluster's IAM OIDC provider (IRSA)."
  type        = string
}

variable "oidc_issuer" {
  description = "OIDC issuer host and path, without https:// (IRSA trust condition)."
  type        = string
}

variable "external_secrets_namespace" {
  description = "Namespace of the External Secrets Operator."
  type        = string
  default     = "external-secrets"
}

variable "external_secrets_chart_version" {
  description = "Version of the external-secrets Helm chart (>= 0.17: serves the external-secrets.io/v1 API used here)."
  type        = string
  default     = "0.19.2"
}

variable "operator_namespace" {
  description = "Namespace of the Eternal Engine operator; gets the PostgreSQL and Redis URL Secrets."
  type        = string
  default     = "eternal-system"
}

variable "bybit_accounts" {
  description = "Names of the Bybit API key secrets to create (one per engine subaccount, plus master). Their values are written out of band, never through terraform."
  type        = list(string)
  default     = ["core-hodl", "trend", "funding", "tactical", "master"]
}

variable "postgres" {
  description = "The PostgreSQL instance: host, port, database and the RDS-managed master secret."
  type = object({
    host              = string
    port              = number
    database          = string
    master_secret_arn = string
  })
}

variable "redis_secret_arn" {
  description = "Secret with the Redis auth_token, host and port (modules/redis)."
  type        = string
}

variable "refresh_interval" {
  description = "How often External Secrets re-reads Secrets Manager (a rotated key arrives within this)."
  type        = string
  default     = "1h"
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
