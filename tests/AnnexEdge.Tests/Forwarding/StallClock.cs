using AnnexEdge.Forwarding.Download;
using Microsoft.Extensions.Time.Testing;

namespace AnnexEdge.Tests.Forwarding;

/// <summary>
/// A fake clock for the stall timer of <see cref="BackendConnection"/>: a test moves it on by a stall timeout only
/// while the edge waits for bytes with the timer armed, so where a body counts as stalled follows from what the
/// backend sent, never from how long the scheduler left the backend or the edge without a CPU.
/// </summary>
internal sealed class StallClock(TimeSpan stallTimeout) : FakeTimeProvider
{
    private readonly Lock _lock = new();
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _armed;
    private int _live;

    public TimeSpan StallTimeout => stallTimeout;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = base.CreateTimer(callback, state, dueTime, period);

        // The stall timer repeats every stall timeout; the low-water fallback and the pool's sweep do not.
        if (period != stallTimeout)
        {
            return timer;
        }

        lock (_lock)
        {
            _armed++;
            _live++;
            Changed();
        }

        return new StallTimer(this, timer);
    }

    /// <summary>
    /// Completes once the edge has armed its <paramref name="count"/>th stall timer: one for each wait for bytes that
    /// were not there at once.
    /// </summary>
    public Task ArmedAsync(int count, CancellationToken cancellationToken) => WhenAsync(() => _armed >= count, cancellationToken);

    /// <summary>
    /// Lets a stall timeout pass whenever the edge waits with its stall timer armed, until <paramref name="until"/>
    /// completes. A check that finds progress may leave the wait going for another timeout: the clock moves on again
    /// once the wait has ended or after a short pause, which decides only how many checks find nothing new, not where
    /// the body stalled, as long as the backend has stopped sending.
    /// </summary>
    public async Task StallUntilAsync(Task until, CancellationToken cancellationToken)
    {
        while (true)
        {
            var waiting = WhenAsync(() => _live > 0, cancellationToken);
            if (await Task.WhenAny(waiting, until) == until)
            {
                return;
            }

            await waiting;
            Advance(stallTimeout);
            await Task.WhenAny(WhenAsync(() => _live == 0, cancellationToken), until, Task.Delay(10, cancellationToken));
        }
    }

    private async Task WhenAsync(Func<bool> condition, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task changed;
            lock (_lock)
            {
                if (condition())
                {
                    return;
                }

                changed = _changed.Task;
            }

            await changed.WaitAsync(cancellationToken);
        }
    }

    /// <summary>Under the lock. Completed from inside the edge's timer calls: waiters go on elsewhere.</summary>
    private void Changed()
    {
        _changed.SetResult();
        _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private void Disarmed()
    {
        lock (_lock)
        {
            _live--;
            Changed();
        }
    }

    /// <summary>A stall timer that tells the clock when the edge disposes of it: its wait has ended.</summary>
    private sealed class StallTimer(StallClock clock, ITimer timer) : ITimer
    {
        private int _disposed;

        public bool Change(TimeSpan dueTime, TimeSpan period) => timer.Change(dueTime, period);

        public void Dispose()
        {
            timer.Dispose();
            Disarm();
        }

        public async ValueTask DisposeAsync()
        {
            await timer.DisposeAsync();
            Disarm();
        }

        private void Disarm()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                clock.Disarmed();
            }
        }
    }
}
