import re
from pathlib import Path

README = Path(__file__).parent.parent / "README.md"


def test_readme_python_example_runs(demo_dir, tmp_path, monkeypatch):
    code = re.search(r"```python\n(.*?)```", README.read_text(), re.S).group(1)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "demo").symlink_to(demo_dir, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(compile(code, str(README), "exec"), namespace)
    assert namespace["batch"]["image"].shape[1:] == (128, 128, 3)
    assert namespace["batch"]["audio"].shape[1:] == (98, 64)
    assert next(iter(namespace["train"]))["user_index"].shape == (1024,)
