"""``telecare users``: manage organizations and user accounts from the command line.

    telecare users create-organization --kind municipality "Aarhus Kommune"
    telecare users create nurse1 --organization "Aarhus Kommune" --role nurse
    telecare users list [--organization ORG]
    telecare users disable nurse1
    telecare users set-password nurse1
    telecare users link-oidc nurse1 --issuer https://idp.example/realms/care --subject 2f1c...

A user signs in with a password, with tokens of the OIDC issuer the api trusts
(``create --oidc-issuer ISSUER --oidc-subject SUB`` makes a user without a password), or both.

Passwords are read from standard input when it is not a terminal (one line), else
prompted for twice without echo; they never appear on the command line, which every
user of the machine can see. The database comes from --database-url or
TELECARE_DATABASE_URL.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Awaitable, Callable

from api.db import Connection, connect
from api.errors import ApiError, InvalidError
from api.principal import Role
from api.queries.users import (
    OrganizationKind,
    create_organization,
    create_user,
    disable_user,
    find_organization,
    link_external_identity,
    list_users,
    set_password,
    user_id_by_name,
)
from api.settings import DATABASE_URL

EXIT_OK = 0
EXIT_FAILED = 2

Action = Callable[[Connection, argparse.Namespace], Awaitable[None]]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "users",
        help="manage organizations and user accounts",
        description=(__doc__ or "").split("\n\n")[0],
    )
    parser.add_argument("--database-url", help=f"libpq URL of PostgreSQL ({DATABASE_URL})")
    actions = parser.add_subparsers(title="actions", metavar="ACTION", required=True)

    org = actions.add_parser("create-organization", help="add a region, municipality or practice")
    org.add_argument("name")
    org.add_argument("--kind", required=True, choices=[kind.value for kind in OrganizationKind])
    org.set_defaults(handler=_runner(_create_organization))

    create = actions.add_parser("create", help="add a user")
    create.add_argument("username")
    create.add_argument("--organization", required=True, help="organization name or id")
    create.add_argument("--role", required=True, choices=[role.value for role in Role])
    create.add_argument("--display-name", help="name shown to others (default: the user name)")
    create.add_argument("--patient-id", type=int, help="the patient a patient account is for")
    create.add_argument("--oidc-issuer", help="sign in with this OIDC issuer's tokens, no password")
    create.add_argument("--oidc-subject", help="the user's subject (sub claim) at that issuer")
    create.set_defaults(handler=_runner(_create))

    listing = actions.add_parser("list", help="list users")
    listing.add_argument("--organization", help="only this organization's (name or id)")
    listing.set_defaults(handler=_runner(_list))

    disable = actions.add_parser("disable", help="disable a user and sign them out")
    disable.add_argument("username")
    disable.set_defaults(handler=_runner(_disable))

    password = actions.add_parser("set-password", help="replace a user's password")
    password.add_argument("username")
    password.set_defaults(handler=_runner(_set_password))

    link = actions.add_parser("link-oidc", help="let a user sign in with an OIDC issuer's tokens")
    link.add_argument("username")
    link.add_argument("--issuer", required=True, help="the issuer (iss claim) the api trusts")
    link.add_argument("--subject", required=True, help="the user's subject (sub claim)")
    link.set_defaults(handler=_runner(_link_oidc))


def _runner(action: Action) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        url = args.database_url or os.environ.get(DATABASE_URL)
        if not url:
            print(f"error: give --database-url or set {DATABASE_URL}", file=sys.stderr)
            return EXIT_FAILED

        async def main() -> None:
            async with connect(url) as conn:
                await action(conn, args)

        try:
            asyncio.run(main())
        except (ApiError, PasswordMismatchError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_FAILED
        return EXIT_OK

    return run


class PasswordMismatchError(Exception):
    """The two typed passwords differ."""


def read_password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise PasswordMismatchError("the passwords differ")
    return first


async def _create_organization(conn: Connection, args: argparse.Namespace) -> None:
    organization_id = await create_organization(
        conn, kind=OrganizationKind(args.kind), name=args.name
    )
    print(f"organization {organization_id} {args.name!r} created")


async def _create(conn: Connection, args: argparse.Namespace) -> None:
    if (args.oidc_issuer is None) != (args.oidc_subject is None):
        raise InvalidError("give both --oidc-issuer and --oidc-subject, or neither")
    external = None if args.oidc_issuer is None else (args.oidc_issuer, args.oidc_subject)
    organization_id = await find_organization(conn, args.organization)
    user = await create_user(
        conn,
        username=args.username,
        display_name=args.display_name or args.username,
        role=Role(args.role),
        organization_id=organization_id,
        password=read_password() if external is None else None,
        patient_id=args.patient_id,
        external=external,
    )
    print(f"user {user.id} {user.username!r} created ({user.role.value})")


async def _list(conn: Connection, args: argparse.Namespace) -> None:
    organization_id = (
        None if args.organization is None else await find_organization(conn, args.organization)
    )
    print("id\tusername\trole\torganization\tstate")
    for user in await list_users(conn, organization_id=organization_id):
        state = "disabled" if user.disabled_at is not None else "enabled"
        print(f"{user.id}\t{user.username}\t{user.role.value}\t{user.organization_id}\t{state}")


async def _disable(conn: Connection, args: argparse.Namespace) -> None:
    user_id = await user_id_by_name(conn, args.username)
    await disable_user(conn, user_id, organization_id=None)
    print(f"user {args.username!r} disabled")


async def _set_password(conn: Connection, args: argparse.Namespace) -> None:
    user_id = await user_id_by_name(conn, args.username)
    await set_password(conn, user_id, read_password(), organization_id=None)
    print(f"password of {args.username!r} replaced")


async def _link_oidc(conn: Connection, args: argparse.Namespace) -> None:
    user_id = await user_id_by_name(conn, args.username)
    await link_external_identity(
        conn, user_id, issuer=args.issuer, subject=args.subject, organization_id=None
    )
    print(f"{args.username!r} signs in as {args.subject!r} of {args.issuer}")
