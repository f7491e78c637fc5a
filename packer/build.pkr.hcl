# One strict-mode script per concern, run as root in this order; validate.sh goes last and fails
# the bake when anything it needs is missing. Files under files/ are copied onto / as they are.
build {
  name    = "mapserver-ecs"
  sources = ["source.amazon-ebs.ecs"]

  provisioner "shell" {
    except = local.unprovisioned_sources
    inline = ["mkdir -p /tmp/mapserver-ecs/files"]
  }

  provisioner "file" {
    except      = local.unprovisioned_sources
    source      = "${path.root}/files/"
    destination = "/tmp/mapserver-ecs/files"
  }

  provisioner "shell" {
    except          = local.unprovisioned_sources
    execute_command = "sudo -E env {{ .Vars }} bash '{{ .Path }}'"
    environment_vars = [
      "MOUNT_DRIVER=${var.mount_driver}",
      "S3FS_VERSION=${var.s3fs_version}",
      "S3FS_SHA256=${var.s3fs_sha256}",
      "MOUNTPOINT_VERSION=${var.mountpoint_version}",
      "OVERLAY_DIR=/tmp/mapserver-ecs/files",
    ]
    scripts = [
      "${path.root}/scripts/install-mount-driver.sh",
      "${path.root}/scripts/configure-fuse.sh",
      "${path.root}/scripts/install-overlay.sh",
      "${path.root}/scripts/enable-mount-service.sh",
      "${path.root}/scripts/clean-instance-state.sh",
      "${path.root}/scripts/validate.sh",
    ]
  }

  post-processor "manifest" {
    output     = "manifest.json"
    strip_path = true
    custom_data = {
      source_ami           = var.source_ami
      mount_driver         = var.mount_driver
      mount_driver_version = local.mount_driver_version
      provisioned          = var.communicator == "none" ? "false" : "true"
    }
  }
}
