"""The answer-file audit finds hand edits and damaged files across a cohort."""
import json

from course.quiz.store import AnswerStore
from course.trainer.audit import audit, main


def test_audit_lists_edited_and_damaged_files(tmp_path, capsys):
    honest = AnswerStore(tmp_path / "submitted" / "ana" / "m2" / "answers.json")
    honest.record("q1", "P2", "p2", False)
    edited_path = tmp_path / "submitted" / "bruno" / "m2" / "answers.json"
    AnswerStore(edited_path).record("q1", "P2", "p2", False)
    data = json.loads(edited_path.read_text())
    data["questions"]["q1"][0].update(answer="P0", canonical="p0", correct=True)
    edited_path.write_text(json.dumps(data))
    damaged = tmp_path / "submitted" / "carla" / "m2" / "answers.json"
    damaged.parent.mkdir(parents=True)
    damaged.write_text("{")

    findings = audit(tmp_path / "submitted")
    assert [(f.student, f.problem.split(":")[0]) for f in findings] == [
        ("bruno", "q1"), ("carla", "answers.json is not valid JSON (line 1, column 2")]
    assert main([str(tmp_path)]) == 1
    assert "2 answer file problem(s)" in capsys.readouterr().out
