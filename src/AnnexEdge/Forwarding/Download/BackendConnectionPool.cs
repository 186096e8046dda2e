using System.Collections.Concurrent;

namespace AnnexEdge.Forwarding.Download;

/// <summary>
/// Idle keep-alive connections of one repository's backends, by endpoint. Connections idle longer than a backend
/// would keep them (warp closes after 30 s) are dropped rather than reused, and swept away while no request comes,
/// so a connection the backend closed does not hold its socket half-closed until the next request.
/// </summary>
internal sealed class BackendConnectionPool : IAsyncDisposable
{
    private const int MaxIdlePerEndpoint = 16;
    private static readonly TimeSpan MaxIdle = TimeSpan.FromSeconds(15);

    private readonly ConcurrentDictionary<string, ConcurrentStack<BackendConnection>> _idle = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;
    private readonly ITimer _sweep;
    private volatile bool _disposed;

    public BackendConnectionPool(TimeProvider time)
    {
        _time = time;
        _sweep = time.CreateTimer(static pool => ((BackendConnectionPool)pool!).Sweep(), this, MaxIdle, MaxIdle);
    }

    public BackendConnection? TryTake(string endpoint)
    {
        if (!_idle.TryGetValue(endpoint, out var stack))
        {
            return null;
        }

        while (stack.TryPop(out var connection))
        {
            if (IsUsable(connection))
            {
                return connection;
            }

            _ = connection.DisposeAsync().AsTask();
        }

        return null;
    }

    public void Return(BackendConnection connection)
    {
        connection.ReleaseBuffer();
        connection.Reused = true;
        connection.IdleSince = _time.GetTimestamp();
        var stack = _idle.GetOrAdd(connection.Endpoint, _ => new());
        if (_disposed || stack.Count >= MaxIdlePerEndpoint)
        {
            _ = connection.DisposeAsync().AsTask();
            return;
        }

        stack.Push(connection);
    }

    public async ValueTask DisposeAsync()
    {
        _disposed = true;
        await _sweep.DisposeAsync();
        foreach (var stack in _idle.Values)
        {
            while (stack.TryPop(out var connection))
            {
                await connection.DisposeAsync();
            }
        }
    }

    private bool IsUsable(BackendConnection connection) =>
        _time.GetElapsedTime(connection.IdleSince) < MaxIdle && connection.LooksReusable();

    private void Sweep()
    {
        foreach (var stack in _idle.Values)
        {
            // Taken out and the usable ones put back in their order (the most recent on top); a request that finds
            // the stack empty meanwhile simply opens a connection.
            var usable = new List<BackendConnection>();
            while (stack.TryPop(out var connection))
            {
                if (!_disposed && IsUsable(connection))
                {
                    usable.Add(connection);
                }
                else
                {
                    _ = connection.DisposeAsync().AsTask();
                }
            }

            for (var i = usable.Count - 1; i >= 0; i--)
            {
                stack.Push(usable[i]);
            }
        }
    }
}
