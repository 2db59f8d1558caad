# The function's role: exactly what a run does, on exactly its own resources.
# No statement names a "*" action; the one "*" resource is ec2:Describe*, below,
# for which AWS offers nothing narrower.

data "aws_iam_policy_document" "assume_role" {
  statement {
    sid     = "LambdaAssumesRole"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "function" {
  # IAM names are global to the account, functions regional: the region keeps
  # two deployments of one name in two regions apart.
  name                 = "${var.name}-${local.region}"
  description          = "Runs ${var.name}: reads and tags the table prefixes of s3://${var.bucket_name}, reads the warehouse secret"
  assume_role_policy   = data.aws_iam_policy_document.assume_role.json
  max_session_duration = 3600
  tags                 = var.tags
}

# The keys the function may decrypt with, by statement sid: the secret's when
# it is encrypted with a customer managed key, through Secrets Manager; the
# bucket's when it encrypts with one, through S3. A key left null is not used.
locals {
  decrypt_keys = {
    DecryptWarehouseSecret = { arn = var.secret_kms_key_arn, service = "secretsmanager" }
    DecryptTableFiles      = { arn = var.bucket_kms_key_arn, service = "s3" }
  }
}

data "aws_iam_policy_document" "function" {
  # Listing only the table prefixes. loadstar lists with Prefix set to a
  # table's prefix, such as "dimension/staff"; "dimension/*" matches it.
  statement {
    sid       = "ListTablePrefixes"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = [for prefix in var.prefixes : "${prefix}*"]
    }
  }

  # Reading a file (GetObject also covers HeadObject and ranged reads) and
  # tagging it loaded once its rows have committed.
  statement {
    sid       = "ReadAndTagTableFiles"
    effect    = "Allow"
    actions   = ["s3:GetObject", "s3:GetObjectTagging", "s3:PutObjectTagging"]
    resources = [for prefix in var.prefixes : "${local.bucket_arn}/${prefix}*"]
  }

  statement {
    sid       = "ReadWarehouseSecret"
    effect    = "Allow"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.db_secret_arn]
  }

  # Its own log group only; the group itself is created by this module.
  statement {
    sid       = "WriteOwnLogs"
    effect    = "Allow"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${local.log_group_arn}:*"]
  }

  # Lambda sends the record of a failed invocation with the function's role.
  statement {
    sid       = "RecordFailedInvocations"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.failed_invocations.arn]
  }

  # With SQS events only: Lambda's poller consumes the event queue with the
  # function's role, so the role may do what a consumer does, on that queue
  # alone. SSE-SQS needs no kms:Decrypt.
  dynamic "statement" {
    for_each = aws_sqs_queue.events[*].arn
    content {
      sid       = "ConsumeEventQueue"
      effect    = "Allow"
      actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"]
      resources = [statement.value]
    }
  }

  # Decrypting with each customer managed key given, and only through the
  # service that holds what it encrypts.
  dynamic "statement" {
    for_each = { for sid, key in local.decrypt_keys : sid => key if key.arn != null }
    content {
      sid       = statement.key
      effect    = "Allow"
      actions   = ["kms:Decrypt"]
      resources = [statement.value.arn]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["${statement.value.service}.${local.region}.amazonaws.com"]
      }
    }
  }
}

resource "aws_iam_role_policy" "function" {
  name   = "loadstar"
  role   = aws_iam_role.function.id
  policy = data.aws_iam_policy_document.function.json
}

# Network interfaces, only for a function in a VPC. Lambda uses the role to
# create and remove the interfaces it runs in.
data "aws_iam_policy_document" "vpc" {
  count = local.in_vpc ? 1 : 0

  # Creating an interface is authorised on the interface, the subnet and the
  # security groups: all three are named.
  statement {
    sid     = "CreateInterfacesInOwnSubnets"
    effect  = "Allow"
    actions = ["ec2:CreateNetworkInterface"]
    resources = concat(
      ["arn:${local.partition}:ec2:${local.region}:${local.account_id}:network-interface/*"],
      [for id in var.subnet_ids : "arn:${local.partition}:ec2:${local.region}:${local.account_id}:subnet/${id}"],
      [for id in var.security_group_ids : "arn:${local.partition}:ec2:${local.region}:${local.account_id}:security-group/${id}"],
    )
  }

  statement {
    sid       = "ManageInterfaces"
    effect    = "Allow"
    actions   = ["ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"]
    resources = ["arn:${local.partition}:ec2:${local.region}:${local.account_id}:network-interface/*"]
  }

  # The only "*" resource in this role. Both actions only read.
  statement {
    sid     = "DescribeNetworkInterfaces"
    effect  = "Allow"
    actions = ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"]
    # ec2:Describe* support no resource-level permissions: AWS accepts nothing
    # narrower than "*" for them.
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "vpc" {
  count  = local.in_vpc ? 1 : 0
  name   = "loadstar-vpc"
  role   = aws_iam_role.function.id
  policy = data.aws_iam_policy_document.vpc[0].json
}
