# Inputs of the bake. The action writes them into mapserver-ecs.auto.pkrvars.hcl; by hand, pass
# -var or a .pkrvars.hcl file. The mount driver's pinned release lives here, not in the action.
# Patterns are checked with regex_replace (whole value replaced by nothing): Packer 1.6 has no regex().

variable "region" {
  type        = string
  description = "AWS region to bake in, such as us-east-1."
  validation {
    condition     = var.region != "" && regex_replace(var.region, "^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$", "") == ""
    error_message = "The region must be an AWS region such as us-east-1."
  }
}

variable "source_ami" {
  type        = string
  description = "ECS-optimized Amazon Linux 2023 AMI to start from (the SSM parameter /aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id)."
  validation {
    condition     = var.source_ami != "" && regex_replace(var.source_ami, "^ami-([0-9a-f]{8}|[0-9a-f]{17})$", "") == ""
    error_message = "The source_ami must be an AMI id such as ami-0123456789abcdef0."
  }
}

variable "architecture" {
  type        = string
  default     = "x86_64"
  description = "CPU architecture of source_ami and instance_type: x86_64 or arm64."
  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "The architecture must be x86_64 or arm64."
  }
}

variable "instance_type" {
  type        = string
  default     = "t3.small"
  description = "Instance type of the temporary bake instance; must match architecture (t4g.small for arm64)."
  validation {
    condition     = var.instance_type != "" && regex_replace(var.instance_type, "^[a-z][a-z0-9-]*\\.[a-z0-9]+$", "") == ""
    error_message = "The instance_type must be an EC2 instance type such as t3.small."
  }
}

variable "ami_name_prefix" {
  type        = string
  default     = "mapserver-ecs"
  description = "Prefix of the AMI name; the build time (UTC) is appended."
  validation {
    condition     = var.ami_name_prefix != "" && regex_replace(var.ami_name_prefix, "^[A-Za-z0-9()\\[\\]./_-]{3,100}$", "") == ""
    error_message = "The ami_name_prefix must be 3 to 100 letters, digits and ()[]./_- characters."
  }
}

variable "mount_driver" {
  type        = string
  default     = "mirror"
  description = "How the bucket is served: mirror (a local copy kept by mapfiles-mirror on Node.js 22 from the Amazon Linux 2023 repository), s3fs (built from the pinned release below) or mountpoint (mount-s3 from the Amazon Linux 2023 repository)."
  validation {
    condition     = contains(["s3fs", "mountpoint", "mirror"], var.mount_driver)
    error_message = "The mount_driver must be s3fs, mountpoint or mirror."
  }
}

variable "s3fs_version" {
  type        = string
  default     = "1.96"
  description = "s3fs-fuse release to build (Amazon Linux 2023 has no s3fs package); 1.92 or later."
  validation {
    condition     = var.s3fs_version != "" && regex_replace(var.s3fs_version, "^1\\.(9[2-9]|[1-9][0-9][0-9])$", "") == ""
    error_message = "The s3fs_version must be a release such as 1.96 (1.92 or later: the mount script relies on its options)."
  }
}

variable "s3fs_sha256" {
  type        = string
  default     = "e11a051f23701445ca99ff0bfbc4e49d8b87c66cdd04a68a1802c2613ba9e3f1"
  description = "SHA-256 of the s3fs-fuse source tarball of s3fs_version (github.com/s3fs-fuse/s3fs-fuse/archive/refs/tags/v<version>.tar.gz)."
  validation {
    condition     = var.s3fs_sha256 != "" && regex_replace(var.s3fs_sha256, "^[0-9a-f]{64}$", "") == ""
    error_message = "The s3fs_sha256 must be 64 lowercase hexadecimal digits."
  }
}

variable "mountpoint_version" {
  type        = string
  default     = ""
  description = "mount-s3 package version to install with dnf (such as 1.7.2); empty for the repository's current one."
  validation {
    condition     = regex_replace(var.mountpoint_version, "^([0-9]+\\.[0-9]+\\.[0-9]+)?$", "") == ""
    error_message = "The mountpoint_version must be empty or a version such as 1.7.2."
  }
}

variable "git_revision" {
  type        = string
  default     = "unknown"
  description = "Git revision of the templates, recorded in the AMI's tags."
  validation {
    condition     = var.git_revision != "" && regex_replace(var.git_revision, "^([0-9a-f]{7,40}|unknown)$", "") == ""
    error_message = "The git_revision must be a commit hash or unknown."
  }
}

variable "input_tags" {
  type        = map(string)
  default     = {}
  description = "Tags the action adds to the AMI: the hash of the bake's inputs and their manifest, so a release with the same inputs reuses the AMI and a changed one names what changed."
}

variable "provenance_tags" {
  type        = map(string)
  default     = {}
  description = "Tags the action adds to the AMI when it runs in a GitHub Actions workflow: the repository, commit and run that baked it. Not part of the bake's inputs."
}

variable "volume_size" {
  type        = number
  default     = 30
  description = "Size (GiB) of the encrypted root volume; the ECS-optimized AMI needs at least 30."
  validation {
    condition     = var.volume_size >= 30 && var.volume_size <= 1024
    error_message = "The volume_size must be from 30 to 1024 GiB."
  }
}

variable "kms_key_id" {
  type        = string
  default     = ""
  description = "KMS key for the root volume and snapshot; empty for the account's default EBS key."
}

variable "subnet_id" {
  type        = string
  default     = ""
  description = "Subnet of the bake instance (it needs outbound access, and SSH from this machine unless ssh_interface is session_manager); empty for the default VPC, which accounts without one do not have."
  validation {
    condition     = regex_replace(var.subnet_id, "^(subnet-([0-9a-f]{8}|[0-9a-f]{17}))?$", "") == ""
    error_message = "The subnet_id must be empty or a subnet id such as subnet-0123456789abcdef0."
  }
}

variable "ssh_interface" {
  type        = string
  default     = "public_ip"
  description = "How Packer reaches the bake instance: public_ip, private_ip (this machine is inside the VPC) or session_manager (SSM Session Manager: no inbound port; needs iam_instance_profile and the session-manager-plugin here)."
  validation {
    condition     = contains(["public_ip", "private_ip", "session_manager"], var.ssh_interface)
    error_message = "The ssh_interface must be public_ip, private_ip or session_manager."
  }
}

variable "associate_public_ip_address" {
  type        = bool
  default     = true
  description = "Give the bake instance a public address (needed by ssh_interface public_ip in a subnet that does not assign one)."
}

variable "iam_instance_profile" {
  type        = string
  default     = ""
  description = "Instance profile of the bake instance; session_manager needs one with AmazonSSMManagedInstanceCore."
}

variable "communicator" {
  type        = string
  default     = "ssh"
  description = "ssh to provision the instance; none only against an API emulator, where no instance boots and no provisioner runs."
  validation {
    condition     = contains(["ssh", "none"], var.communicator)
    error_message = "The communicator must be ssh or none."
  }
}

variable "ec2_endpoint" {
  type        = string
  default     = ""
  description = "EC2 API endpoint of an emulator (http://127.0.0.1:port); empty for AWS."
  validation {
    condition     = regex_replace(var.ec2_endpoint, "^(https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?/?)?$", "") == ""
    error_message = "The ec2_endpoint must be empty or http(s)://host[:port]."
  }
}
