using AnnexEdge.Logging;

namespace AnnexEdge.Hosting;

/// <summary>
/// <c>Limits:ReleaseIdleMemory</c>: once the edge goes quiet after a busy spell, compacts the GC heap and returns its
/// free memory to the system. The GC collects only when the process allocates, so an edge that went idle after a
/// burst (thousands of connections opened, large transfers) kept that burst's garbage and free heap space resident for
/// as long as it stayed idle: 24 MiB of 220 with 3,000 idle HTTPS connections, 46–66 MiB of 507 with 11,000
/// (bench/README.md, "Idle scale"). The collection blocks the process while it runs (0.13 s and 0.35–0.47 s there),
/// once per busy spell, when nothing is being served.
/// </summary>
internal sealed partial class IdleMemoryRelease : BackgroundService
{
    /// <summary>How often the edge looks whether it has gone quiet.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);

    /// <summary>Allocated since the last release, a busy spell: below it there is too little to give back.</summary>
    public const long BusyBytes = 64L << 20;

    /// <summary>Allocated within one <see cref="Interval"/> by an edge that is quiet (health probes, a metrics scrape).</summary>
    public const long QuietBytes = 4L << 20;

    /// <summary>
    /// Connection buffers rented within one <see cref="Interval"/> by an edge that is quiet. A transfer allocates little
    /// (its buffers are pooled) but rents a buffer for every 64 KiB it moves, so this, not allocation, tells it apart
    /// from quiet: a collection must not stall it.
    /// </summary>
    public const long QuietRents = 16;

    private readonly TimeProvider _time;
    private readonly ILogger<IdleMemoryRelease> _logger;
    private readonly Func<Activity> _activity;
    private readonly Action _release;

    public IdleMemoryRelease(LargeBlockMemoryPoolFactory buffers, TimeProvider time, ILogger<IdleMemoryRelease> logger)
        : this(
            time,
            logger,
            () => new Activity(GC.GetTotalAllocatedBytes(), buffers.Rented),
            () => GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true))
    {
    }

    internal IdleMemoryRelease(TimeProvider time, ILogger<IdleMemoryRelease> logger, Func<Activity> activity, Action release) =>
        (_time, _logger, _activity, _release) = (time, logger, activity, release);

    private BusySpell? _spell;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, _time);
        Begin();
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            Check();
        }
    }

    /// <summary>Starts watching: the first spell starts now.</summary>
    internal void Begin() => _spell = new BusySpell(_activity());

    /// <summary>One check: a spell that ends quietly is released, and the next starts.</summary>
    internal void Check()
    {
        var spell = _spell ?? throw new InvalidOperationException("Begin first");
        var now = _activity();
        if (spell.EndsQuietly(now))
        {
            Release(now.Allocated - spell.Start.Allocated);
            _spell = new BusySpell(now);
        }
    }

    private void Release(long allocated)
    {
        var before = Environment.WorkingSet;
        var started = _time.GetTimestamp();
        _release();
        Log.Released(_logger, allocated >> 20, before >> 20, Environment.WorkingSet >> 20, (long)_time.GetElapsedTime(started).TotalMilliseconds);
    }

    /// <summary>What the process has allocated and how many connection buffers it has rented, since it started.</summary>
    internal readonly record struct Activity(long Allocated, long Rented);

    /// <summary>
    /// The process's activity since <see cref="Start"/>, watched check by check: the spell ends quietly at the first
    /// check that finds less than <see cref="QuietBytes"/> allocated and <see cref="QuietRents"/> buffers rented since
    /// the one before, once <see cref="BusyBytes"/> have been allocated in all.
    /// </summary>
    internal sealed class BusySpell(Activity start)
    {
        private Activity _atCheck = start;

        public Activity Start { get; } = start;

        public bool EndsQuietly(Activity now)
        {
            var quiet = now.Allocated - _atCheck.Allocated < QuietBytes && now.Rented - _atCheck.Rented < QuietRents;
            _atCheck = now;
            return quiet && now.Allocated - Start.Allocated >= BusyBytes;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EdgeEventIds.IdleMemoryReleased, LogLevel.Information, "Quiet after allocating {AllocatedMiB} MiB: compacted the heap and gave its free memory back; resident memory {BeforeMiB} MiB before, {AfterMiB} MiB after, {Milliseconds} ms (Limits:ReleaseIdleMemory)")]
        public static partial void Released(ILogger logger, long allocatedMiB, long beforeMiB, long afterMiB, long milliseconds);
    }
}
