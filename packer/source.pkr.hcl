# The bake instance: the ECS-optimized AMI, an encrypted root volume, IMDSv2 required while baking
# and recorded in the AMI (imds_support), so every instance launched from it requires IMDSv2 too.
# Needs the amazon plugin pinned in versions.pkr.hcl; legacy/source.pkr.hcl is the same source for
# Packer older than 1.7, whose bundled builder lacks the IMDS settings (used against an emulator only).
source "amazon-ebs" "ecs" {
  region          = var.region
  source_ami      = var.source_ami
  instance_type   = var.instance_type
  subnet_id       = var.subnet_id
  ami_name        = local.ami_name
  ami_description = "ECS-optimized Amazon Linux 2023 (${var.architecture}) with the mapfile bucket mounted read-only by ${var.mount_driver} (mapserver-ecs)"

  # Without a subnet EC2 uses the default VPC; the action passes bake-subnet (or the first of subnets).
  associate_public_ip_address = var.associate_public_ip_address
  iam_instance_profile        = var.iam_instance_profile

  communicator  = var.communicator
  ssh_username  = "ec2-user"
  ssh_timeout   = "10m"
  ssh_interface = var.ssh_interface
  # Only this machine may reach the temporary SSH port (over the public address).
  temporary_security_group_source_public_ip = var.ssh_interface == "public_ip"

  custom_endpoint_ec2 = var.ec2_endpoint
  # The region is checked (ec2:DescribeRegions) against the emulator too, as on AWS.
  skip_region_validation     = false
  skip_credential_validation = local.emulated
  skip_metadata_api_check    = local.emulated

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 2
  }
  imds_support = "v2.0"

  launch_block_device_mappings {
    device_name           = "/dev/xvda"
    volume_type           = "gp3"
    volume_size           = var.volume_size
    iops                  = 3000
    throughput            = 125
    encrypted             = true
    kms_key_id            = var.kms_key_id
    delete_on_termination = true
  }

  run_tags = {
    "Name"                  = "${local.ami_name} (bake)"
    "mapserver-ecs:managed" = "true"
  }
  tags          = local.image_tags
  snapshot_tags = local.image_tags
}
