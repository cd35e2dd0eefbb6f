variable "name" {
  description = "Identifier prefix, e.g. eternal-prod."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the database."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets of the DB subnet group (at least two zones)."
  type        = list(string)
}

variable "allowed_security_group_ids" {
  description = "Security groups allowed to connect on 5432 (the cluster's)."
  type        = list(string)
}

variable "kms_key_arn" {
  description = "KMS key for storage, Performance Insights, logs and the managed master password."
  type        = string
}

variable "engine_version" {
  description = "PostgreSQL major version."
  type        = string
  default     = "16"
}

variable "instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.t4g.medium"
}

variable "allocated_storage_gb" {
  description = "Initial storage; grows automatically up to max_allocated_storage_gb."
  type        = number
  default     = 50
}

variable "max_allocated_storage_gb" {
  description = "Storage autoscaling ceiling."
  type        = number
  default     = 200
}

variable "database_name" {
  description = "Database the runtimes and governance use."
  type        = string
  default     = "eternal"
}

variable "master_username" {
  description = "Master user; its password is generated and rotated by RDS in Secrets Manager."
  type        = string
  default     = "eternal_admin"
}

variable "multi_az" {
  description = "Standby in a second zone with automatic fail-over (prod: true)."
  type        = bool
  default     = true
}

variable "backup_retention_days" {
  description = "Automated backup (point-in-time recovery) retention, 1..35 days."
  type        = number
  default     = 14
  validation {
    condition     = var.backup_retention_days >= 1 && var.backup_retention_days <= 35
    error_message = "backup_retention_days must be 1..35: backups are never off."
  }
}

variable "deletion_protection" {
  description = "Refuse to delete the instance (prod: true)."
  type        = bool
  default     = true
}

variable "log_retention_days" {
  description = "Days to keep the exported PostgreSQL logs."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
