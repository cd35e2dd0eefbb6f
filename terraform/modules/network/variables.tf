variable "name" {
  description = "Name prefix of every resource, e.g. eternal-prod."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,30}$", var.name))
    error_message = "name must be 3-31 lowercase letters, digits or dashes, starting with a letter."
  }
}

variable "cidr_block" {
  description = "IPv4 CIDR of the VPC; /16 leaves room for the cluster's pods (VPC CNI)."
  type        = string
  default     = "10.40.0.0/16"
  validation {
    condition     = can(cidrhost(var.cidr_block, 0))
    error_message = "cidr_block must be a valid IPv4 CIDR."
  }
}

variable "availability_zones" {
  description = "Availability zones to span, by name (2 or 3, e.g. eu-west-1a). Named, not counted, so the network never changes when AWS adds a zone."
  type        = list(string)
  validation {
    condition     = length(var.availability_zones) >= 2 && length(var.availability_zones) <= 3
    error_message = "Give 2 or 3 availability zones."
  }
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all zones (cheaper, dev) instead of one per zone (prod)."
  type        = bool
  default     = false
}

variable "flow_log_retention_days" {
  description = "Days to keep VPC flow logs in CloudWatch."
  type        = number
  default     = 365
}

variable "kms_key_arn" {
  description = "KMS key that encrypts the flow log group."
  type        = string
}

variable "cluster_name" {
  description = "EKS cluster name, for the subnet discovery tags of load balancers."
  type        = string
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
