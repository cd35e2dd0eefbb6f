variable "name" {
  description = "Cluster name, e.g. eternal-prod."
  type        = string
}

variable "kubernetes_version" {
  description = "EKS Kubernetes minor version. The project tests against 1.34."
  type        = string
  default     = "1.34"
  validation {
    condition     = can(regex("^1\\.[0-9]{2}$", var.kubernetes_version))
    error_message = "kubernetes_version is a minor version such as 1.34."
  }
}

variable "vpc_id" {
  description = "VPC of the cluster."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets for the control plane's network interfaces and the nodes."
  type        = list(string)
  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "EKS needs subnets in at least two availability zones."
  }
}

variable "kms_key_arn" {
  description = "KMS key for envelope encryption of Kubernetes Secrets and of the log group."
  type        = string
}

variable "endpoint_public_access" {
  description = "Expose the API server endpoint publicly. Off by default: reach it from the VPC (VPN, bastion, SSM) or turn it on with a narrow public_access_cidrs."
  type        = bool
  default     = false
}

variable "public_access_cidrs" {
  description = "CIDRs allowed to the public endpoint when endpoint_public_access is true. Never 0.0.0.0/0."
  type        = list(string)
  default     = []
  validation {
    condition     = !contains(var.public_access_cidrs, "0.0.0.0/0")
    error_message = "public_access_cidrs must not contain 0.0.0.0/0."
  }
}

variable "admin_role_arns" {
  description = "IAM roles granted cluster-admin through EKS access entries (the platform team, CI)."
  type        = list(string)
  default     = []
}

variable "node_instance_types" {
  description = "Instance types of the managed node group. Engines are light: burstable types suffice."
  type        = list(string)
  default     = ["t3.large"]
}

variable "node_min_size" {
  description = "Minimum node count."
  type        = number
  default     = 2
}

variable "node_desired_size" {
  description = "Desired node count at creation (later changes are left to the autoscaler)."
  type        = number
  default     = 2
}

variable "node_max_size" {
  description = "Maximum node count."
  type        = number
  default     = 4
}

variable "node_disk_size_gb" {
  description = "Root volume size of each node, encrypted with kms_key_arn."
  type        = number
  default     = 50
}

variable "log_retention_days" {
  description = "Days to keep control-plane logs."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
