using System.Collections.Concurrent;

namespace AnnexEdge.Forwarding;

/// <summary>
/// Idle keep-alive connections of one repository's backends, by endpoint. Connections idle longer than a backend
/// would keep them (warp closes after 30 s) are dropped rather than reused.
/// </summary>
internal sealed class BackendConnectionPool(TimeProvider time) : IAsyncDisposable
{
    private const int MaxIdlePerEndpoint = 16;
    private static readonly TimeSpan MaxIdle = TimeSpan.FromSeconds(15);

    private readonly ConcurrentDictionary<string, ConcurrentStack<BackendConnection>> _idle = new(StringComparer.Ordinal);
    private bool _disposed;

    public BackendConnection? TryTake(string endpoint)
    {
        if (!_idle.TryGetValue(endpoint, out var stack))
        {
            return null;
        }

        while (stack.TryPop(out var connection))
        {
            if (time.GetElapsedTime(connection.IdleSince) < MaxIdle && connection.LooksReusable())
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
        connection.IdleSince = time.GetTimestamp();
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
        foreach (var stack in _idle.Values)
        {
            while (stack.TryPop(out var connection))
            {
                await connection.DisposeAsync();
            }
        }
    }
}
