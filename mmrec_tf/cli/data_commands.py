"""The commands that write or check a dataset: demo-data, prepare and validate."""

from __future__ import annotations

from pathlib import Path


def add_demo_data_command(commands, common) -> None:
    demo = commands.add_parser(
        "demo-data",
        parents=[common],
        help="write the synthetic demo dataset",
        description="Write the synthetic demo dataset (real JPEG/PNG, WAV and video files with a "
        "planted signal in each modality). The same options give the same files.",
    )
    demo.add_argument("out", type=Path, help="directory to create (must not exist or be empty)")
    demo.add_argument("--items", type=int, default=200, help="number of items (default 200)")
    demo.add_argument("--users", type=int, default=150, help="number of users (default 150)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.add_argument(
        "--frame-folders-only",
        action="store_true",
        help="write every video as a folder of frames (no PyAV needed)",
    )
    demo.set_defaults(handler=_demo_data)


def _demo_data(args) -> int:
    from mmrec_tf.data import generate_demo_dataset

    generate_demo_dataset(
        args.out,
        num_items=args.items,
        num_users=args.users,
        seed=args.seed,
        video_files=not args.frame_folders_only,
    )
    print(f"wrote the demo dataset to {args.out}")
    return 0


def add_prepare_command(commands, common) -> None:
    prepare = commands.add_parser(
        "prepare",
        parents=[common],
        help="convert a public dataset to the mmrec-tf format",
        description="Convert a public dataset to the mmrec-tf dataset format.",
    )
    prepare.add_argument("name", choices=["movielens-100k"], help="the dataset")
    prepare.add_argument(
        "--out", type=Path, required=True, help="directory to create (must not exist or be empty)"
    )
    prepare.add_argument(
        "--source",
        type=Path,
        help="local copy (e.g. ml-100k-mm, with plots and posters); without "
        "it the official archive is downloaded (titles and genres only)",
    )
    prepare.add_argument(
        "--cache-dir",
        type=Path,
        help="where downloads are kept (default $MMREC_CACHE_DIR or ~/.cache/mmrec_tf)",
    )
    prepare.set_defaults(handler=_prepare)


def _prepare(args) -> int:
    from mmrec_tf.data import prepare_movielens_100k

    prepare_movielens_100k(args.out, args.source, cache_dir=args.cache_dir)
    print(f"wrote {args.name} to {args.out}")
    return 0


def add_validate_command(commands, common) -> None:
    validate = commands.add_parser(
        "validate",
        parents=[common],
        help="check a dataset and decode every file",
        description="Check a dataset directory: ids, splits, paths, and every referenced media "
        "file decoded as the loaders do; warns about what spoils an evaluation (held-out "
        "(user, item) pairs also in train, repeated rows, users or items with no train "
        "interaction). Prints a summary, then each problem on its own line; exits with "
        "status 1 when there are errors.",
    )
    validate.add_argument("--data", type=Path, required=True, help="the dataset directory")
    validate.add_argument(
        "--no-decode",
        action="store_true",
        help="check the files' structure only, without decoding media",
    )
    validate.set_defaults(handler=_validate)


def _validate(args) -> int:
    from mmrec_tf.data import validate_dataset

    report = validate_dataset(args.data, decode_media=not args.no_decode)
    print(report.format())
    return 0 if report.ok else 1
