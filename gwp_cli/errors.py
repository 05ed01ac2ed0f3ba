"""One error type for bad input: the CLI prints it as one line and exits 2."""


class GwpError(Exception):
    """Bad input a user can fix.

    The message names where the problem is (``source``: a file or option),
    what is wrong (``field``) and how to fix it (``fix``).
    """

    def __init__(self, source: str, field: str, problem: str, fix: str = ""):
        self.source, self.field, self.problem, self.fix = str(source), field, problem, fix
        super().__init__(self.one_line())

    def one_line(self) -> str:
        where = f"{self.source}: {self.field}" if self.field else self.source
        text = f"{where}: {self.problem}"
        return f"{text}; {self.fix}" if self.fix else text
