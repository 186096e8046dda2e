using System.Net;

namespace AnnexEdge.Security;

/// <summary>
/// Runs at most a fixed number of password checks (PBKDF2, about half a second of a core each) at once, so logins
/// cannot take every core from the transfers. When all are busy, waiting checks queue per client address and a freed
/// place goes to the addresses in turn, so an address with many checks waiting delays another address's first login
/// by about one check, not by its whole queue.
/// </summary>
internal sealed class PasswordCheckScheduler(int concurrency)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<IPAddress, Queue<TaskCompletionSource>> _waiting = [];

    /// <summary>Addresses with checks waiting, in the order of their next turn.</summary>
    private readonly Queue<IPAddress> _turns = new();

    private int _running;

    /// <summary>Checks running now.</summary>
    public int Running
    {
        get
        {
            lock (_lock)
            {
                return _running;
            }
        }
    }

    /// <summary>Runs <paramref name="check"/> on a thread of its own once it has a place.</summary>
    public async Task<T> RunAsync<T>(IPAddress address, Func<T> check, CancellationToken cancellationToken)
    {
        await EnterAsync(address, cancellationToken);
        try
        {
            // Not on the thread pool: half a second of CPU per check on a pool thread starves the pool (it has one
            // thread per core to start with), and then even the 429s and the transfers wait for new threads.
            return await Task.Factory.StartNew(check, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }
        finally
        {
            Leave();
        }
    }

    private async Task EnterAsync(IPAddress address, CancellationToken cancellationToken)
    {
        TaskCompletionSource turn;
        lock (_lock)
        {
            // Checks wait only while every place is taken, and a freed place goes straight to a waiting check, so a
            // free place means nothing live is waiting (cancelled waiters are skipped when their turn comes).
            if (_running < concurrency)
            {
                _running++;
                return;
            }

            turn = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            if (!_waiting.TryGetValue(address, out var queue))
            {
                _waiting[address] = queue = new Queue<TaskCompletionSource>();
                _turns.Enqueue(address);
            }

            queue.Enqueue(turn);
        }

        // The turn is either handed over or cancelled, never both: a cancelled one is skipped by Leave.
        using var registration = cancellationToken.Register(() => turn.TrySetCanceled(cancellationToken));
        await turn.Task;
    }

    private void Leave()
    {
        lock (_lock)
        {
            while (_turns.TryDequeue(out var address))
            {
                var queue = _waiting[address];
                var next = queue.Dequeue();
                if (queue.Count > 0)
                {
                    _turns.Enqueue(address);
                }
                else
                {
                    _waiting.Remove(address);
                }

                if (next.TrySetResult())
                {
                    return;
                }
            }

            _running--;
        }
    }
}
