from core.cli import console

console()
