variable "name" {
  description = "Identifier prefix, e.g. eternal-prod."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the replication group."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets of the cache subnet group."
  type        = list(string)
}

variable "allowed_security_group_ids" {
  description = "Security groups allowed to connect on 6379 (the cluster's)."
  type        = list(string)
}

variable "kms_key_arn" {
  description = "KMS key for data at rest, the auth token secret and the logs."
  type        = string
}

variable "engine_version" {
  description = "Redis OSS engine version."
  type        = string
  default     = "7.1"
}

variable "node_type" {
  description = "Cache node type."
  type        = string
  default     = "cache.t4g.small"
}

variable "replicas" {
  description = "Read replicas besides the primary; at least 1 gives automatic fail-over across zones."
  type        = number
  default     = 1
  validation {
    condition     = var.replicas >= 0 && var.replicas <= 5
    error_message = "replicas must be 0..5."
  }
}

variable "snapshot_retention_days" {
  description = "Days of daily snapshots (Redis holds caches and streams; PostgreSQL is the record)."
  type        = number
  default     = 3
}

variable "log_retention_days" {
  description = "Days to keep the slow log and engine log."
  type        = number
  default     = 365
}

variable "secret_name" {
  description = "Secrets Manager name of the auth token secret (JSON: auth_token, host, port)."
  type        = string
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
