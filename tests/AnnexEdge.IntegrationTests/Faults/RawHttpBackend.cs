using System.Net;
using System.Net.Sockets;
using System.Text;

namespace AnnexEdge.IntegrationTests.Faults;

/// <summary>
/// A fake backend on a raw socket, for faults no HTTP server library produces: it reads a request's head and hands
/// the connection to a script that writes whatever bytes it likes (a truncated body, nothing at all) and then
/// closes it. One request per connection.
/// </summary>
public sealed class RawHttpBackend : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Func<string, Stream, CancellationToken, Task> _script;
    private readonly Task _acceptLoop;
    private int _requests;

    /// <param name="script">Answers one request: gets the request head (request line and headers) and the connection.</param>
    public RawHttpBackend(Func<string, Stream, CancellationToken, Task> script)
    {
        _script = script;
        _listener.Start();
        _acceptLoop = AcceptAsync();
    }

    /// <summary>http://127.0.0.1:PORT</summary>
    public string Url => $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

    /// <summary>Requests whose head was read.</summary>
    public int Requests => Volatile.Read(ref _requests);

    /// <summary>Writes an HTTP/1.1 status line and headers.</summary>
    public static Task WriteHeadAsync(Stream connection, string status, IEnumerable<string> headers, CancellationToken cancellationToken)
    {
        var head = $"HTTP/1.1 {status}\r\n" + string.Concat(headers.Select(h => h + "\r\n")) + "\r\n";
        return connection.WriteAsync(Encoding.ASCII.GetBytes(head), cancellationToken).AsTask();
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try
        {
            await _acceptLoop;
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        var connections = new List<Task>();
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                TcpClient client;
                try
                {
                    client = await _listener.AcceptTcpClientAsync(_stop.Token);
                }
                catch (SocketException)
                {
                    break;
                }

                connections.Add(ServeAsync(client));
            }
        }
        finally
        {
            await Task.WhenAll(connections);
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                var stream = client.GetStream();
                var head = await ReadHeadAsync(stream, _stop.Token);
                if (head is null)
                {
                    return;
                }

                Interlocked.Increment(ref _requests);
                await _script(head, stream, _stop.Token);
                await stream.FlushAsync(_stop.Token);
            }
            catch (OperationCanceledException)
            {
            }
            catch (IOException)
            {
                // The edge gave up on this connection; nothing to answer.
            }
        }
    }

    private static async Task<string?> ReadHeadAsync(Stream stream, CancellationToken cancellationToken)
    {
        var bytes = new List<byte>();
        var one = new byte[1];
        while (bytes.Count < 64 * 1024)
        {
            if (await stream.ReadAsync(one, cancellationToken) == 0)
            {
                return null;
            }

            bytes.Add(one[0]);
            if (bytes.Count >= 4 && bytes[^4] == '\r' && bytes[^3] == '\n' && bytes[^2] == '\r' && bytes[^1] == '\n')
            {
                return Encoding.ASCII.GetString(bytes.ToArray());
            }
        }

        return null;
    }
}
