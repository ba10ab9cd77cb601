module kubectl-metallb/tools/release

go 1.26.0
