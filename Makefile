# Shorthands for ./run.sh, which also works where make is not installed.
.PHONY: demo test bench setup
demo:
	./run.sh demo
test:
	./run.sh test
bench:
	./run.sh bench
setup:
	./run.sh setup
