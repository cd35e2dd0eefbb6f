variable "region" {
  description = "AWS region of the environment."
  type        = string
  default     = "eu-west-1"
}

variable "admin_role_arns" {
  description = "IAM roles given cluster-admin (platform team, CI deployer)."
  type        = list(string)
  default     = []
}

variable "endpoint_public_access" {
  description = "Expose the EKS API publicly (restricted to public_access_cidrs). Off: private only."
  type        = bool
  default     = false
}

variable "public_access_cidrs" {
  description = "CIDRs allowed to a public EKS endpoint, e.g. the office VPN egress /32."
  type        = list(string)
  default     = []
}

variable "bybit_accounts" {
  description = "Bybit subaccounts (one per Engine) plus master whose API keys External Secrets delivers."
  type        = list(string)
  default     = ["core-hodl", "trend", "funding", "tactical", "master"]
}

variable "tags" {
  description = "Extra tags on every resource (cost centre, owner)."
  type        = map(string)
  default     = {}
}
