using AnnexEdge.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace AnnexEdge.Tests.Hosting;

public sealed class IdleMemoryReleaseTests
{
    private const long MiB = 1 << 20;

    [Fact]
    public async Task The_first_quiet_check_after_a_busy_spell_releases_once_and_later_quiet_checks_do_not()
    {
        await using var edge = await Edge.StartAsync();

        await edge.CheckAsync(allocatedSinceLast: 100 * MiB);
        Assert.Equal(0, edge.Releases);

        await edge.CheckAsync(allocatedSinceLast: 1 * MiB);
        Assert.Equal(1, edge.Releases);

        for (var i = 0; i < 5; i++)
        {
            await edge.CheckAsync(allocatedSinceLast: 1 * MiB);
        }

        Assert.Equal(1, edge.Releases);
    }

    [Fact]
    public async Task An_edge_that_stays_busy_is_not_released_until_a_check_finds_it_quiet()
    {
        await using var edge = await Edge.StartAsync();

        for (var i = 0; i < 20; i++)
        {
            await edge.CheckAsync(allocatedSinceLast: IdleMemoryRelease.QuietBytes);
        }

        Assert.Equal(0, edge.Releases);

        await edge.CheckAsync(allocatedSinceLast: IdleMemoryRelease.QuietBytes - 1);
        Assert.Equal(1, edge.Releases);
    }

    [Fact]
    public async Task A_quiet_edge_is_released_only_once_its_small_allocations_add_up_to_a_busy_spell()
    {
        await using var edge = await Edge.StartAsync();
        var checks = (int)(IdleMemoryRelease.BusyBytes / (2 * MiB));

        for (var i = 0; i < checks - 1; i++)
        {
            await edge.CheckAsync(allocatedSinceLast: 2 * MiB);
        }

        Assert.Equal(0, edge.Releases);

        await edge.CheckAsync(allocatedSinceLast: 2 * MiB);
        Assert.Equal(1, edge.Releases);
    }

    [Fact]
    public async Task A_transfer_that_allocates_little_but_rents_buffers_is_not_taken_for_quiet()
    {
        await using var edge = await Edge.StartAsync();
        await edge.CheckAsync(allocatedSinceLast: 100 * MiB);

        for (var i = 0; i < 5; i++)
        {
            await edge.CheckAsync(allocatedSinceLast: 1 * MiB, rentedSinceLast: IdleMemoryRelease.QuietRents);
        }

        Assert.Equal(0, edge.Releases);

        await edge.CheckAsync(allocatedSinceLast: 1 * MiB, rentedSinceLast: IdleMemoryRelease.QuietRents - 1);
        Assert.Equal(1, edge.Releases);
    }

    /// <summary>The service on a fake clock, with a counter for what the process allocated and for its releases.</summary>
    private sealed class Edge : IAsyncDisposable
    {
        private readonly FakeTimeProvider _time = new();
        private readonly IdleMemoryRelease _service;
        private long _allocated;
        private long _rented;
        private int _reads;
        private int _releases;

        private Edge() =>
            _service = new IdleMemoryRelease(
                _time,
                NullLogger<IdleMemoryRelease>.Instance,
                () =>
                {
                    Interlocked.Increment(ref _reads);
                    return new IdleMemoryRelease.Activity(Interlocked.Read(ref _allocated), Interlocked.Read(ref _rented));
                },
                () => Interlocked.Increment(ref _releases));

        public int Releases => Volatile.Read(ref _releases);

        public static async Task<Edge> StartAsync()
        {
            var edge = new Edge();
            await edge._service.StartAsync(CancellationToken.None);
            await UntilAsync(() => Volatile.Read(ref edge._reads) >= 1);
            return edge;
        }

        /// <summary>Allocates and rents, moves the clock to the next check and waits until the service has looked.</summary>
        public async Task CheckAsync(long allocatedSinceLast, long rentedSinceLast = 0)
        {
            Interlocked.Add(ref _allocated, allocatedSinceLast);
            Interlocked.Add(ref _rented, rentedSinceLast);
            var reads = Volatile.Read(ref _reads);
            var releases = Releases;
            _time.Advance(IdleMemoryRelease.Interval);
            await UntilAsync(() => Volatile.Read(ref _reads) > reads);

            // A release is followed by one more read (the new spell's start); wait for it so the next check starts clean.
            if (Releases > releases)
            {
                await UntilAsync(() => Volatile.Read(ref _reads) > reads + 1);
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _service.StopAsync(CancellationToken.None);
            _service.Dispose();
        }

        private static async Task UntilAsync(Func<bool> condition)
        {
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (!condition())
            {
                Assert.True(DateTime.UtcNow < deadline, "the idle memory check did not run");
                await Task.Delay(5);
            }
        }
    }
}
