# Development: two zones, one NAT gateway, single-AZ PostgreSQL without deletion protection,
# Redis without a replica, small nodes. Encryption, private endpoints and backups are the same
# as production; only redundancy is traded for cost.

locals {
  environment = "dev"
  name        = "eternal-${local.environment}"
  tags = merge(var.tags, {
    project     = "eternal-engine"
    environment = local.environment
    managed-by  = "terraform"
  })
}

module "kms" {
  source               = "../../modules/kms"
  name                 = local.name
  deletion_window_days = 7
  tags                 = local.tags
}

module "network" {
  source             = "../../modules/network"
  name               = local.name
  cidr_block         = "10.50.0.0/16"
  availability_zones = ["${var.region}a", "${var.region}b"]
  single_nat_gateway = true
  cluster_name       = local.name
  kms_key_arn        = module.kms.key_arn
  tags               = local.tags
}

module "eks" {
  source                 = "../../modules/eks"
  name                   = local.name
  kubernetes_version     = "1.34"
  vpc_id                 = module.network.vpc_id
  subnet_ids             = module.network.private_subnet_ids
  kms_key_arn            = module.kms.key_arn
  endpoint_public_access = var.endpoint_public_access
  public_access_cidrs    = var.public_access_cidrs
  admin_role_arns        = var.admin_role_arns
  node_instance_types    = ["t3.large"]
  node_min_size          = 1
  node_desired_size      = 2
  node_max_size          = 3
  tags                   = local.tags
}

module "postgres" {
  source                     = "../../modules/postgres"
  name                       = local.name
  vpc_id                     = module.network.vpc_id
  subnet_ids                 = module.network.private_subnet_ids
  allowed_security_group_ids = [module.eks.cluster_security_group_id]
  kms_key_arn                = module.kms.key_arn
  instance_class             = "db.t4g.small"
  multi_az                   = false
  deletion_protection        = false
  backup_retention_days      = 7
  tags                       = local.tags
}

module "redis" {
  source                     = "../../modules/redis"
  name                       = local.name
  vpc_id                     = module.network.vpc_id
  subnet_ids                 = module.network.private_subnet_ids
  allowed_security_group_ids = [module.eks.cluster_security_group_id]
  kms_key_arn                = module.kms.key_arn
  node_type                  = "cache.t4g.micro"
  replicas                   = 0
  secret_name                = "eternal/${local.environment}/redis"
  tags                       = local.tags
}

module "secrets" {
  source            = "../../modules/secrets"
  name              = local.name
  secret_prefix     = "eternal/${local.environment}"
  kms_key_arn       = module.kms.key_arn
  oidc_provider_arn = module.eks.oidc_provider_arn
  oidc_issuer       = module.eks.oidc_issuer
  bybit_accounts    = var.bybit_accounts
  postgres = {
    host              = module.postgres.endpoint
    port              = module.postgres.port
    database          = module.postgres.database_name
    master_secret_arn = module.postgres.master_user_secret_arn
  }
  redis_secret_arn = module.redis.secret_arn
  tags             = local.tags
}
