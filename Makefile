# Every test of every module in go.work, under the race detector.
.PHONY: test vet example

test:
	go test -race -count=1 github.com/hookline/webhook/...

vet:
	go vet github.com/hookline/webhook/...

example:
	go run ./examples/basic
