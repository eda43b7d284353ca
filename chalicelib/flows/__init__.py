"""Use cases that span several entities: each function here reads and writes through the
services of the packages below (contacts, groups, campaigns), never around them."""
