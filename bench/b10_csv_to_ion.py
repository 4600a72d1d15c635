"""B10: CsvToIon on a generated CSV of --mb megabytes (default 1024): conversion time and peak RSS.

The CSV (8 columns, quoted fields, ~100 bytes a row) goes in as a FILE input of a flow run with
`lanner flow run`; the figure is the CsvToIon task's own duration and the whole process's peak RSS,
which must stay flat whatever the file size (rows are streamed).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path

FLOW = """
id: b10
namespace: bench
inputs:
  - {id: csv, type: FILE}
tasks:
  - id: convert
    type: io.kestra.plugin.serdes.csv.CsvToIon
    from: "{{ inputs.csv }}"
"""


def make_csv(path: Path, megabytes: int) -> int:
    rows = 0
    target = megabytes * 1024 * 1024
    with path.open("w", encoding="utf-8") as fh:
        fh.write("id,region,product,quantity,amount,sold_at,note,flag\n")
        block = "".join(f'{i},north,"Notebook, A5",{i % 9},{i % 1000}.25,2024-05-31T09:12:00Z,"said ""hi""",true\n' for i in range(1000))
        while fh.tell() < target:
            fh.write(block)
            rows += 1000
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=1024)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "big.csv"
        rows = make_csv(csv, args.mb)
        (Path(tmp) / "b10.yaml").write_text(FLOW)
        env = {**os.environ, "LANNER_HOME": str(Path(tmp) / "home")}
        lanner = [str(Path(sys.executable).parent / "lanner")]
        out = subprocess.run([*lanner, "flow", "run", str(Path(tmp) / "b10.yaml"), "--input", f"csv={csv}", "--json"],
                             env=env, capture_output=True, text=True, check=True)
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        (run,) = [t for t in json.loads(out.stdout)["taskRuns"] if t["taskId"] == "convert"]
        seconds = (datetime.fromisoformat(run["endDate"]) - datetime.fromisoformat(run["startDate"])).total_seconds()
        assert run["outputs"]["size"] == rows, run
        print(json.dumps({"name": f"B10 CsvToIon {args.mb} MB ({rows:,} rows)", "seconds": round(seconds, 1),
                          "MB/s": round(args.mb / seconds, 1), "peak RSS MB": round(peak_mb)}))


if __name__ == "__main__":
    main()
