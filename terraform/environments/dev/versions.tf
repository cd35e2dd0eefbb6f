terraform {
  required_version = ">= 1.6.0"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.70"
    }
    helm = {
      source  = "hashicorp/helm"
      version = "~> 2.15"
    }
    kubernetes = {
      source  = "hashicorp/kubernetes"
      version = "~> 2.33"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
    tls = {
      source  = "hashicorp/tls"
      version = "~> 4.0"
    }
  }

  # State in S3, encrypted, with S3-native locking. Partial configuration: the bucket and
  # region come from backend.hcl (copy backend.hcl.example) so no account id is committed.
  #   terraform init -backend-config=backend.hcl
  backend "s3" {
    key          = "eternal-engine/dev/terraform.tfstate"
    encrypt      = true
    use_lockfile = true
  }
}
