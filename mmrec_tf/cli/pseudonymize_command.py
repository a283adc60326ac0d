"""The pseudonymize command: a copy of a dataset with user ids replaced by keyed
hashes."""

from __future__ import annotations

from pathlib import Path


def add_pseudonymize_command(commands, common) -> None:
    pseudonymize = commands.add_parser(
        "pseudonymize",
        parents=[common],
        help="copy a dataset with user ids replaced by keyed hashes",
        description="Write a copy of a dataset whose user ids are HMAC-SHA-256 pseudonyms under "
        "a secret key you keep (the same key maps the same id the same way, so later "
        "interactions join), optionally with coarser timestamps. Item ids, media and "
        "everything else are copied as they are. See docs/privacy.md for what this "
        "protects and what it does not.",
    )
    pseudonymize.add_argument("--data", type=Path, required=True, help="the dataset directory")
    pseudonymize.add_argument(
        "--key-file", type=Path, required=True, help="the secret key (hex); keep it safe"
    )
    pseudonymize.add_argument(
        "--new-key",
        action="store_true",
        help="create the key file first (never over an existing one)",
    )
    pseudonymize.add_argument(
        "--out", type=Path, required=True, help="directory to create (must not exist or be empty)"
    )
    pseudonymize.add_argument(
        "--timestamp-resolution",
        type=int,
        metavar="SECONDS",
        help="round timestamps down to a multiple of this (e.g. 86400: the day)",
    )
    pseudonymize.set_defaults(handler=_pseudonymize)


def _pseudonymize(args) -> int:
    from mmrec_tf.data import pseudonyms

    if args.new_key:
        # The key file is written once the dataset is: a failed run leaves neither.
        pseudonyms.check_new_key_file(args.key_file)
        key = pseudonyms.new_key()
        pseudonymizer = pseudonyms.Pseudonymizer(key)
    else:
        pseudonymizer = pseudonyms.Pseudonymizer.from_key_file(args.key_file)
    pseudonyms.pseudonymize_dataset(
        args.data, pseudonymizer, args.out, timestamp_resolution=args.timestamp_resolution
    )
    if args.new_key:
        pseudonyms.write_key(args.key_file, key)
        print(
            f"wrote a new key to {args.key_file}: keep it secret, and keep it (without it "
            "new data cannot be pseudonymised the same way)"
        )
    print(f"wrote {args.out}: user ids pseudonymised with {args.key_file}")
    return 0
