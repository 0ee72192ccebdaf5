"""What per-trainee worlds cost: data and reference time per trainee, and autograde with
variants on and off.

    python benchmarks/world_variants.py [--trainees 6] [--modules m2_sla_severity m5_troubleshooting]

1. Data: every generated file of a trainee's world, written into an empty cache, per trainee.
2. Reference: the keys and reference results the hidden tests compute, per trainee (files cached).
3. Autograde: in one temporary course and one run, the same honest cohort graded with variants
   off (everyone in the canonical world) and on (each trainee in their own), each group starting
   from an empty data cache. Prints figures and ratios; asserts nothing.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))


def timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def world_files(variant) -> None:
    from course.data import backend_logs, platform, sentry, traffic

    traffic.request_log(variant), traffic.health_probe_log(variant), traffic.incident_channel_log(variant)
    for size in ("full", "sample"):
        backend_logs.production_log(size, variant)
    backend_logs.bracketed_log(variant), backend_logs.dev_log(variant)
    platform.project_export(variant), platform.health_checks(variant), platform.metrics(variant)
    platform.deployment_history(variant), sentry.issues_export(variant), sentry.events_export(variant)


def references() -> None:
    from course.data import backend_logs, traffic
    from course.trainer.reference import logparse, quiz_keys, slo

    requests = slo.parse_request_log(traffic.request_log())
    slo.slo_table(requests, slo.parse_health_log(traffic.health_probe_log()),
                  slo.parse_section_completions(traffic.request_log()))
    slo.response_deadlines(slo.parse_incident_log(traffic.incident_channel_log()))
    logparse.parse_production(backend_logs.production_log("full"))
    for name in sorted(quiz_keys._KEYS):
        quiz_keys.answer(name)


def per_trainee(trainees: int) -> None:
    from course.data import cache, world

    data, reference = [], []
    for i in range(trainees):
        variant = world.Variant(world.seed_for(f"bench-{i:03d}"))
        with tempfile.TemporaryDirectory() as folder:
            os.environ[cache.ENV_VAR] = folder
            data.append(timed(lambda: world_files(variant)))
            with world.using(variant.seed):
                reference.append(timed(references))
    print(f"data of one trainee's world (every module): {statistics.median(data):.2f} s median "
          f"({min(data):.2f} to {max(data):.2f} s, {trainees} trainees)")
    print(f"reference results and quiz keys of one trainee: {statistics.median(reference):.2f} s median "
          f"({min(reference):.2f} to {max(reference):.2f} s)")


def autograde_on_off(trainees: int, modules: list[str]) -> None:
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    from course.data import cache, world
    from harness import Trainee, build_course

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "course"
        root.mkdir()
        os.environ["NBGRADER_EXCHANGE"] = str(root / "exchange")
        os.environ[cache.ENV_VAR] = str(Path(scratch) / "build-data")
        build_course(root)
        print(f"\nautograde, {trainees} honest trainees per group, same run, empty data cache per group")
        print(f"{'module':<22}{'off s/nb':>10}{'on s/nb':>10}{'on/off':>9}")
        for module in modules:
            seconds = {}
            for enabled in (False, True):
                group = f"{'on' if enabled else 'off'}-{module[:2]}"
                for i in range(trainees):
                    trainee = Trainee(f"{group}-{i:02d}")
                    trainee.submit(root, module, seed=None if enabled else world.CANONICAL_SEED)
                os.environ[cache.ENV_VAR] = str(Path(scratch) / f"data-{group}")
                config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
                config.CourseDirectory.root = str(root)
                config.WorldVariants.enabled = enabled
                api = NbGraderAPI(CourseDirectory(config=config), config=config)
                started = time.perf_counter()
                for i in range(trainees):
                    result = api.autograde(module, f"{group}-{i:02d}", force=True)
                    if not result["success"]:
                        raise SystemExit(result.get("log", "")[-2000:])
                seconds[enabled] = (time.perf_counter() - started) / trainees
            print(f"{module:<22}{seconds[False]:>10.2f}{seconds[True]:>10.2f}"
                  f"{seconds[True] / seconds[False]:>8.2f}x")


def main() -> None:
    import warnings

    warnings.filterwarnings("ignore", module="nbgrader")  # gradebook session notices, per call
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trainees", type=int, default=6)
    parser.add_argument("--modules", nargs="+", default=["m2_sla_severity", "m5_troubleshooting"])
    args = parser.parse_args()
    os.environ.pop("ETP_VARIANTS", None)
    per_trainee(args.trainees)
    autograde_on_off(args.trainees, args.modules)


if __name__ == "__main__":
    main()
