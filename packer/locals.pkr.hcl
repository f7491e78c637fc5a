locals {
  build_time = timestamp()
  ami_name   = "${var.ami_name_prefix}-${formatdate("YYYYMMDD-hhmmss", local.build_time)}"

  # Against an emulator there is no instance to talk to: skip the checks that need AWS itself.
  emulated = var.ec2_endpoint != ""

  # Provisioners need a connection to the instance; with communicator none they are left out.
  unprovisioned_sources = var.communicator == "none" ? ["amazon-ebs.ecs"] : []

  mount_driver_version = var.mount_driver == "s3fs" ? var.s3fs_version : (var.mount_driver == "mirror" ? "nodejs22" : (var.mountpoint_version != "" ? var.mountpoint_version : "al2023-repository"))

  # cleanup reads mapserver-ecs:managed to find the AMIs this pipeline made.
  ami_tags = {
    "Name"                               = local.ami_name
    "mapserver-ecs:managed"              = "true"
    "mapserver-ecs:source-ami"           = var.source_ami
    "mapserver-ecs:mount-driver"         = var.mount_driver
    "mapserver-ecs:mount-driver-version" = local.mount_driver_version
    "mapserver-ecs:git-revision"         = var.git_revision
    "mapserver-ecs:build-time"           = local.build_time
    "mapserver-ecs:architecture"         = var.architecture
  }

  # With the hash of the bake's inputs and their manifest: release reuses an AMI baked from the same
  # inputs, and names what changed when it bakes. The provenance tags name the run that baked it.
  image_tags = merge(var.input_tags, var.provenance_tags, local.ami_tags)
}
