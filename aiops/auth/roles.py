"""Roles, their levels and the permissions each grants (CONTRACT.md, Identity)."""

from __future__ import annotations

from enum import StrEnum


class Permission(StrEnum):
    READ = "read"
    WRITE = "write"
    MANAGE_KEYS = "manage_keys"
    MANAGE_USERS = "manage_users"
    MANAGE_TENANTS = "manage_tenants"


class Role(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"
    SUPER_ADMIN = "super_admin"

    @property
    def level(self) -> int:
        return _LEVELS[self]

    @property
    def permissions(self) -> tuple[Permission, ...]:
        return _PERMISSIONS[self]

    def allows(self, permission: Permission) -> bool:
        return permission in _PERMISSIONS[self]


_LEVELS = {Role.VIEWER: 1, Role.OPERATOR: 2, Role.ADMIN: 3, Role.SUPER_ADMIN: 4}
_PERMISSIONS = {
    Role.VIEWER: (Permission.READ,),
    Role.OPERATOR: (Permission.READ, Permission.WRITE),
    Role.ADMIN: (Permission.READ, Permission.WRITE, Permission.MANAGE_KEYS, Permission.MANAGE_USERS),
    Role.SUPER_ADMIN: (
        Permission.READ,
        Permission.WRITE,
        Permission.MANAGE_KEYS,
        Permission.MANAGE_USERS,
        Permission.MANAGE_TENANTS,
    ),
}
