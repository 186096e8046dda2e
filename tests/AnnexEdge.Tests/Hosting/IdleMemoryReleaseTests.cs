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

    [Fact]
    public async Task The_service_checks_once_per_interval_on_the_edges_clock()
    {
        var time = new FakeTimeProvider();
        var reads = 0;
        using var service = new IdleMemoryRelease(
            time, NullLogger<IdleMemoryRelease>.Instance, () => new IdleMemoryRelease.Activity(Interlocked.Increment(ref reads), 0), () => { });
        await service.StartAsync(CancellationToken.None);
        await UntilAsync(() => Volatile.Read(ref reads) == 1);

        time.Advance(IdleMemoryRelease.Interval - TimeSpan.FromTicks(1));
        await Task.Yield();
        Assert.Equal(1, Volatile.Read(ref reads));
        time.Advance(TimeSpan.FromTicks(1));
        await UntilAsync(() => Volatile.Read(ref reads) == 2);
        await service.StopAsync(CancellationToken.None);
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

    /// <summary>The service's checks made one by one, with counters for what the process allocated and for its releases.</summary>
    private sealed class Edge : IAsyncDisposable
    {
        private readonly IdleMemoryRelease _service;
        private long _allocated;
        private long _rented;

        private Edge()
        {
            _service = new IdleMemoryRelease(
                new FakeTimeProvider(),
                NullLogger<IdleMemoryRelease>.Instance,
                () => new IdleMemoryRelease.Activity(_allocated, _rented),
                () => Releases++);
            _service.Begin();
        }

        public int Releases { get; private set; }

        public static Task<Edge> StartAsync() => Task.FromResult(new Edge());

        /// <summary>Allocates and rents, then makes the next check.</summary>
        public Task CheckAsync(long allocatedSinceLast, long rentedSinceLast = 0)
        {
            _allocated += allocatedSinceLast;
            _rented += rentedSinceLast;
            _service.Check();
            return Task.CompletedTask;
        }

        public ValueTask DisposeAsync()
        {
            _service.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
