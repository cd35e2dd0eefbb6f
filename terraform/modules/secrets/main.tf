# Secrets delivery: AWS Secrets Manager holds every credential, the External Secrets Operator
# copies them into Kubernetes Secrets, and it reads them with an IAM role for its service
# account (IRSA) limited to this environment's secrets and key. Terraform never sees a Bybit
# key: it creates empty secrets that a person fills (docs/install.md, docs/operations.md).

locals {
  eso_service_account = "external-secrets"
  bybit_arns          = [for s in aws_secretsmanager_secret.bybit : s.arn]
}

resource "aws_secretsmanager_secret" "bybit" {
  #checkov:skip=CKV2_AWS_57:Bybit API keys are created and revoked in Bybit's UI; rotation is the documented manual procedure (docs/operations.md, Rotating keys)
  for_each                = toset(var.bybit_accounts)
  name                    = "${var.secret_prefix}/bybit/${each.value}"
  description             = "Bybit API key of ${each.value} (JSON: apiKey, apiSecret)"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = 30
  tags                    = var.tags
}

data "aws_iam_policy_document" "eso_assume" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [var.oidc_provider_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${var.oidc_issuer}:sub"
      values   = ["system:serviceaccount:${var.external_secrets_namespace}:${local.eso_service_account}"]
    }
    condition {
      test     = "StringEquals"
      variable = "${var.oidc_issuer}:aud"
      values   = ["sts.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "eso" {
  name               = "${var.name}-external-secrets"
  assume_role_policy = data.aws_iam_policy_document.eso_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "eso" {
  statement {
    sid     = "ReadThisEnvironmentsSecrets"
    actions = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    resources = concat(local.bybit_arns, [
      var.postgres.master_secret_arn,
      var.redis_secret_arn,
    ])
  }
  statement {
    sid       = "DecryptWithThisEnvironmentsKey"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "eso" {
  name   = "read-secrets"
  role   = aws_iam_role.eso.id
  policy = data.aws_iam_policy_document.eso.json
}

resource "helm_release" "external_secrets" {
  name             = "external-secrets"
  repository       = "https://charts.external-secrets.io"
  chart            = "external-secrets"
  version          = var.external_secrets_chart_version
  namespace        = var.external_secrets_namespace
  create_namespace = true
  atomic           = true

  values = [yamlencode({
    installCRDs = true
    serviceAccount = {
      name        = local.eso_service_account
      annotations = { "eks.amazonaws.com/role-arn" = aws_iam_role.eso.arn }
    }
    securityContext = {
      runAsNonRoot             = true
      allowPrivilegeEscalation = false
      readOnlyRootFilesystem   = true
    }
  })]
}

data "aws_region" "current" {}

resource "kubernetes_manifest" "store" {
  manifest = {
    apiVersion = "external-secrets.io/v1"
    kind       = "ClusterSecretStore"
    metadata   = { name = "aws-secrets-manager" }
    spec = {
      provider = {
        aws = {
          service = "SecretsManager"
          region  = data.aws_region.current.name
          auth = {
            jwt = {
              serviceAccountRef = {
                name      = local.eso_service_account
                namespace = var.external_secrets_namespace
              }
            }
          }
        }
      }
    }
  }
  depends_on = [helm_release.external_secrets]
}

resource "kubernetes_namespace_v1" "operator" {
  metadata {
    name = var.operator_namespace
    labels = {
      "pod-security.kubernetes.io/enforce" = "restricted"
    }
  }
}

# The operator chart reads these two Secrets (database.existingSecret, redis.existingSecret).
resource "kubernetes_manifest" "postgres_url" {
  manifest = {
    apiVersion = "external-secrets.io/v1"
    kind       = "ExternalSecret"
    metadata   = { name = "eternal-postgres", namespace = kubernetes_namespace_v1.operator.metadata[0].name }
    spec = {
      refreshInterval = var.refresh_interval
      secretStoreRef  = { kind = "ClusterSecretStore", name = "aws-secrets-manager" }
      target = {
        name           = "eternal-postgres"
        creationPolicy = "Owner"
        template = {
          data = {
            url = "postgresql://{{ .username }}:{{ .password | urlquery }}@${var.postgres.host}:${var.postgres.port}/${var.postgres.database}?sslmode=verify-full"
          }
        }
      }
      data = [
        { secretKey = "username", remoteRef = { key = var.postgres.master_secret_arn, property = "username" } },
        { secretKey = "password", remoteRef = { key = var.postgres.master_secret_arn, property = "password" } },
      ]
    }
  }
  depends_on = [kubernetes_manifest.store]
}

resource "kubernetes_manifest" "redis_url" {
  manifest = {
    apiVersion = "external-secrets.io/v1"
    kind       = "ExternalSecret"
    metadata   = { name = "eternal-redis", namespace = kubernetes_namespace_v1.operator.metadata[0].name }
    spec = {
      refreshInterval = var.refresh_interval
      secretStoreRef  = { kind = "ClusterSecretStore", name = "aws-secrets-manager" }
      target = {
        name           = "eternal-redis"
        creationPolicy = "Owner"
        template = {
          data = { url = "rediss://:{{ .auth_token }}@{{ .host }}:{{ .port }}/0" }
        }
      }
      dataFrom = [{ extract = { key = var.redis_secret_arn } }]
    }
  }
  depends_on = [kubernetes_manifest.store]
}
