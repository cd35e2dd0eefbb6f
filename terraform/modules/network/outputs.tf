output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}

output "vpc_cidr_block" {
  description = "IPv4 CIDR of the VPC."
  value       = aws_vpc.this.cidr_block
}

output "private_subnet_ids" {
  description = "Private subnets (nodes, PostgreSQL, Redis), one per zone."
  value       = aws_subnet.private[*].id
}

output "public_subnet_ids" {
  description = "Public subnets (NAT gateways only), one per zone."
  value       = aws_subnet.public[*].id
}

output "nat_public_ips" {
  description = "Egress addresses of the NAT gateways: whitelist them on each Bybit API key."
  value       = aws_eip.nat[*].public_ip
}
