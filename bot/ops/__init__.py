"""Operations: starting the stack and the cluster, benchmarks and measurements."""
