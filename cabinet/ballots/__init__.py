"""Opinion ballots (Phiếu lấy ý kiến thành viên Chính phủ): D12, D13."""
