using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

// The one raw-socket fake backend of both test projects: AnnexEdge.Tests links this file in (see its csproj).
namespace AnnexEdge.IntegrationTests.Faults;

/// <summary>One request as a <see cref="RawHttpBackend"/> saw it.</summary>
/// <param name="Head">The request line and header fields, without the blank line.</param>
/// <param name="Connection">1 for the first accepted connection, 2 for the next, ...</param>
/// <param name="Stream">The connection, for the script to write its answer.</param>
internal sealed record RawHttpExchange(string Head, int Connection, Stream Stream);

/// <summary>
/// A loopback HTTP/1.1 backend on a raw socket, for framing and faults no server library produces (a truncated
/// body, a chunk longer than its size, nothing at all): it reads each request head and lets a script write
/// whatever bytes it likes. WireMock serves the well-formed answers. A keep-alive script returns whether the
/// connection stays open for another request (reading a new head on it is how keep-alive is observed); a
/// one-shot script answers one request and the connection is closed after it.
/// </summary>
internal sealed class RawHttpBackend : IAsyncDisposable
{
    private const int MaxHead = 64 * 1024;

    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Func<RawHttpExchange, CancellationToken, Task<bool>> _script;
    private readonly ConcurrentQueue<RawHttpExchange> _exchanges = new();
    private readonly SemaphoreSlim _closed = new(0);
    private readonly Task _acceptLoop;
    private int _connections;

    /// <param name="script">Answers one request; returns whether the connection stays open for another.</param>
    public RawHttpBackend(Func<RawHttpExchange, CancellationToken, Task<bool>> script)
    {
        _script = script;
        _listener.Start();
        _acceptLoop = AcceptAsync();
    }

    /// <param name="script">Answers one request, given its head and the connection, which is closed after it.</param>
    public RawHttpBackend(Func<string, Stream, CancellationToken, Task> script)
        : this(async (exchange, ct) =>
        {
            await script(exchange.Head, exchange.Stream, ct);
            await exchange.Stream.FlushAsync(ct);
            return false;
        })
    {
    }

    /// <summary>Answers every request at once with 200 and <paramref name="json"/>, keeping the connection open.</summary>
    public static RawHttpBackend AnsweringJson(string json) => AnsweringJson(() => json);

    /// <summary>Answers every request at once with 200 and what <paramref name="json"/> gives then, keeping the connection open.</summary>
    public static RawHttpBackend AnsweringJson(Func<string> json)
    {
        return new RawHttpBackend(async (exchange, ct) =>
        {
            var body = Encoding.ASCII.GetBytes(json());
            await WriteHeadAsync(exchange.Stream, "200 OK", ["Content-Type: application/json", $"Content-Length: {body.Length}"], ct);
            await exchange.Stream.WriteAsync(body, ct);
            await exchange.Stream.FlushAsync(ct);
            return true;
        });
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>http://127.0.0.1:PORT</summary>
    public string Url => $"http://127.0.0.1:{Port}";

    /// <summary>Connections accepted so far.</summary>
    public int Connections => Volatile.Read(ref _connections);

    /// <summary>Requests whose head was read.</summary>
    public int Requests => _exchanges.Count;

    /// <summary>Every request head read so far, in order.</summary>
    public IReadOnlyList<RawHttpExchange> Exchanges => [.. _exchanges];

    /// <summary>Completes once the backend has closed one more connection.</summary>
    public Task WaitForCloseAsync(CancellationToken cancellationToken) => _closed.WaitAsync(cancellationToken);

    /// <summary>An HTTP/1.1 status line and header fields, with the blank line that ends them.</summary>
    public static byte[] Head(string status, params string[] fields) =>
        Encoding.ASCII.GetBytes($"HTTP/1.1 {status}\r\n" + string.Concat(fields.Select(f => f + "\r\n")) + "\r\n");

    public static Task WriteHeadAsync(Stream connection, string status, IEnumerable<string> fields, CancellationToken cancellationToken) =>
        connection.WriteAsync(Head(status, [.. fields]), cancellationToken).AsTask();

    public async ValueTask DisposeAsync()
    {
        // The accept loop ends on the token before the listener stops: a loop that reached its next accept only
        // after a stop would throw "Not listening" out of the test.
        await _stop.CancelAsync();
        await _acceptLoop;
        _listener.Stop();
        _stop.Dispose();
        _closed.Dispose();
    }

    private async Task AcceptAsync()
    {
        var connections = new List<Task>();
        try
        {
            while (true)
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                connections.Add(ServeAsync(client, Interlocked.Increment(ref _connections)));
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Stopped.
        }
        finally
        {
            await Task.WhenAll(connections);
        }
    }

    private async Task ServeAsync(TcpClient client, int number)
    {
        try
        {
            using (client)
            {
                var stream = client.GetStream();
                while (await ReadHeadAsync(stream, _stop.Token) is { } head)
                {
                    var exchange = new RawHttpExchange(head, number, stream);
                    _exchanges.Enqueue(exchange);
                    if (!await _script(exchange, _stop.Token))
                    {
                        break;
                    }
                }
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // The edge went away, or the test is over.
        }
        finally
        {
            _closed.Release();
        }
    }

    private static async Task<string?> ReadHeadAsync(Stream stream, CancellationToken cancellationToken)
    {
        var head = new List<byte>();
        var one = new byte[1];
        while (head.Count < 4 || head[^4] != '\r' || head[^3] != '\n' || head[^2] != '\r' || head[^1] != '\n')
        {
            if (head.Count > MaxHead || await stream.ReadAsync(one, cancellationToken) == 0)
            {
                return null;
            }

            head.Add(one[0]);
        }

        return Encoding.Latin1.GetString([.. head], 0, head.Count - 4);
    }
}
