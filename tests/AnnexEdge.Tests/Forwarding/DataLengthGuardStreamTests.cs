using AnnexEdge.Forwarding;

namespace AnnexEdge.Tests.Forwarding;

public sealed class DataLengthGuardStreamTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Counts_and_passes_on_every_byte_without_announcement()
    {
        var inner = new MemoryStream();
        var guard = new DataLengthGuardStream(inner);
        await guard.WriteAsync(new byte[] { 1, 2, 3 }, Ct);
        await guard.WriteAsync(new byte[] { 4, 5 }.AsMemory(1, 1), Ct);
        guard.Write([6, 7], 0, 2);
#pragma warning disable CA1835 // the array overload is under test
        await guard.WriteAsync(new byte[] { 8, 9, 10 }, 1, 1, Ct);
#pragma warning restore CA1835

        Assert.Equal(7, guard.Written);
        Assert.Equal(7, guard.Position);
        Assert.Equal(new byte[] { 1, 2, 3, 5, 6, 7, 9 }, inner.ToArray());
        Assert.Null(guard.Expected);
        Assert.False(guard.Mismatch);
    }

    [Fact]
    public async Task Exactly_the_announced_length_is_no_mismatch()
    {
        var inner = new MemoryStream();
        var guard = new DataLengthGuardStream(inner) { Expected = 5 };
        Assert.True(guard.Mismatch);
        await guard.WriteAsync(new byte[3], Ct);
        Assert.True(guard.Mismatch);
        await guard.WriteAsync(new byte[2], Ct);
        Assert.False(guard.Mismatch);
        Assert.Equal(5, inner.Length);
    }

    [Fact]
    public async Task Fewer_bytes_than_announced_is_a_mismatch()
    {
        var guard = new DataLengthGuardStream(new MemoryStream()) { Expected = 10 };
        await guard.WriteAsync(new byte[9], Ct);
        Assert.True(guard.Mismatch);
    }

    [Fact]
    public void Zero_announced_and_nothing_sent_is_no_mismatch()
    {
        Assert.False(new DataLengthGuardStream(new MemoryStream()) { Expected = 0 }.Mismatch);
    }

    [Fact]
    public async Task Write_beyond_the_announced_length_is_refused_and_not_passed_on()
    {
        var inner = new MemoryStream();
        var guard = new DataLengthGuardStream(inner) { Expected = 4 };
        await guard.WriteAsync(new byte[] { 1, 2, 3 }, Ct);

        var error = await Assert.ThrowsAsync<IOException>(async () => await guard.WriteAsync(new byte[] { 4, 5 }, Ct));
        Assert.Contains("4 bytes", error.Message, StringComparison.Ordinal);
        Assert.Equal(new byte[] { 1, 2, 3 }, inner.ToArray());
        Assert.Equal(5, guard.Written);
        Assert.True(guard.Mismatch);
    }

    [Fact]
    public void Synchronous_write_beyond_the_announced_length_is_refused()
    {
        var inner = new MemoryStream();
        var guard = new DataLengthGuardStream(inner) { Expected = 1 };
        Assert.Throws<IOException>(() => guard.Write([1, 2], 0, 2));
        Assert.Equal(0, inner.Length);
    }

    [Fact]
    public async Task Array_overload_beyond_the_announced_length_is_refused()
    {
        var guard = new DataLengthGuardStream(new MemoryStream()) { Expected = 0 };
#pragma warning disable CA1835 // the array overload is under test
        await Assert.ThrowsAsync<IOException>(() => guard.WriteAsync(new byte[1], 0, 1, Ct));
#pragma warning restore CA1835
    }

    [Fact]
    public async Task Announcement_may_come_after_bytes_were_counted()
    {
        var guard = new DataLengthGuardStream(new MemoryStream());
        await guard.WriteAsync(new byte[3], Ct);
        guard.Expected = 3;
        Assert.False(guard.Mismatch);
        await Assert.ThrowsAsync<IOException>(async () => await guard.WriteAsync(new byte[1], Ct));
    }

    [Fact]
    public async Task Empty_write_at_the_limit_is_fine()
    {
        var guard = new DataLengthGuardStream(new MemoryStream()) { Expected = 2 };
        await guard.WriteAsync(new byte[2], Ct);
        await guard.WriteAsync(ReadOnlyMemory<byte>.Empty, Ct);
        Assert.False(guard.Mismatch);
    }

    [Fact]
    public void Stream_is_write_only_and_not_seekable()
    {
        var guard = new DataLengthGuardStream(new MemoryStream());
        Assert.True(guard.CanWrite);
        Assert.False(guard.CanRead);
        Assert.False(guard.CanSeek);
        Assert.Throws<NotSupportedException>(() => guard.Length);
        Assert.Throws<NotSupportedException>(() => guard.Position = 1);
        Assert.Throws<NotSupportedException>(() => guard.Read(new byte[1], 0, 1));
        Assert.Throws<NotSupportedException>(() => guard.Seek(0, SeekOrigin.Begin));
        Assert.Throws<NotSupportedException>(() => guard.SetLength(1));
    }

    [Fact]
    public async Task Flush_reaches_the_inner_stream()
    {
        var inner = new FlushCountingStream();
        var guard = new DataLengthGuardStream(inner);
        guard.Flush();
        await guard.FlushAsync(Ct);
        Assert.Equal(2, inner.Flushes);
    }

    private sealed class FlushCountingStream : MemoryStream
    {
        public int Flushes { get; private set; }

        public override void Flush() => Flushes++;

        public override Task FlushAsync(CancellationToken cancellationToken)
        {
            Flushes++;
            return Task.CompletedTask;
        }
    }
}
