using System.Collections.Concurrent;
using System.Globalization;
using System.Text;

namespace AnnexEdge.IntegrationTests.Faults;

/// <summary>
/// A fake node (a repository or a cluster's node) on a raw socket: answers the health probe (<c>gettimestamp</c>)
/// and <c>checkpresent</c> as p2phttp does, and a GET of a key with the content from the request's <c>offset</c>, chunked, with its
/// <c>X-git-annex-data-length</c>, but sends only <c>stallAfter</c> bytes of it and then nothing, keeping the
/// connection open until the edge closes it; after <c>stalls</c> such GETs (when given), it sends the whole rest.
/// </summary>
internal sealed class StallingNode : IAsyncDisposable
{
    private readonly byte[] _content;
    private readonly int _stallAfter;
    private readonly int _stalls;
    private readonly RawHttpBackend _backend;
    private readonly ConcurrentQueue<long> _keyOffsets = new();
    private readonly TaskCompletionSource _hungUp = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public StallingNode(string uuid, byte[] content, int stallAfter, int stalls = int.MaxValue)
    {
        Uuid = uuid;
        _content = content;
        _stallAfter = stallAfter;
        _stalls = stalls;
        _backend = new RawHttpBackend(AnswerAsync);
    }

    public string Uuid { get; }

    public string Url => _backend.Url;

    /// <summary>The offsets of the key GETs it got, in order.</summary>
    public long[] KeyRequestOffsets => [.. _keyOffsets];

    /// <summary>Completes when the edge closed a connection this node had stalled.</summary>
    public Task HungUp => _hungUp.Task;

    public ValueTask DisposeAsync() => _backend.DisposeAsync();

    private async Task AnswerAsync(string head, Stream connection, CancellationToken ct)
    {
        // "GET /git-annex/UUID/v3/key/KEY?clientuuid=...&offset=N HTTP/1.1"
        var requestLine = head[..head.IndexOf('\r')].Split(' ');
        var target = new Uri("http://node" + requestLine[1]);
        var segments = target.AbsolutePath.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var query = target.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => p.Split('=', 2))
            .ToDictionary(p => p[0], p => p.Length > 1 ? Uri.UnescapeDataString(p[1]) : "", StringComparer.Ordinal);
        if (segments is not ["git-annex", var uuid, _, ..] || uuid != Uuid)
        {
            await RawHttpBackend.WriteHeadAsync(connection, "404 Not Found", ["Content-Length: 0", "Connection: close"], ct);
            return;
        }

        switch (requestLine[0], segments[3..])
        {
            case ("POST", ["gettimestamp"]):
                await WriteJsonAsync(connection, $"{{\"timestamp\":{Environment.TickCount64 / 1000}}}", ct);
                return;
            case ("POST", ["checkpresent"]):
                await WriteJsonAsync(connection, "{\"present\":true}", ct);
                return;
            case ("GET", ["key", _]):
                await SendAndStallAsync(connection, query.TryGetValue("offset", out var o) ? long.Parse(o, CultureInfo.InvariantCulture) : 0, ct);
                return;
            default:
                await RawHttpBackend.WriteHeadAsync(connection, "404 Not Found", ["Content-Length: 0", "Connection: close"], ct);
                return;
        }
    }

    private async Task SendAndStallAsync(Stream connection, long offset, CancellationToken ct)
    {
        _keyOffsets.Enqueue(offset);
        var stalls = _keyOffsets.Count <= _stalls;
        var rest = _content.AsMemory((int)offset);
        await RawHttpBackend.WriteHeadAsync(
            connection,
            "200 OK",
            ["Content-Type: application/octet-stream", $"X-git-annex-data-length: {rest.Length}", "Transfer-Encoding: chunked"],
            ct);

        // A few chunks of uneven size, then silence.
        var part = stalls ? rest[..Math.Min(_stallAfter, rest.Length)] : rest;
        while (part.Length > 0)
        {
            var chunk = part[..Math.Min(part.Length, 48 * 1024 + 7)];
            await connection.WriteAsync(Encoding.ASCII.GetBytes($"{chunk.Length:x}\r\n"), ct);
            await connection.WriteAsync(chunk, ct);
            await connection.WriteAsync("\r\n"u8.ToArray(), ct);
            part = part[chunk.Length..];
        }

        if (!stalls)
        {
            await connection.WriteAsync("0\r\n\r\n"u8.ToArray(), ct);
            await connection.FlushAsync(ct);
            return;
        }

        await connection.FlushAsync(ct);

        // Nothing more: wait, connection open, until the edge hangs up.
        try
        {
            var buffer = new byte[1024];
            while (await connection.ReadAsync(buffer, ct) > 0)
            {
            }
        }
        catch (IOException)
        {
        }

        _hungUp.TrySetResult();
    }

    private static async Task WriteJsonAsync(Stream connection, string json, CancellationToken ct)
    {
        var body = Encoding.UTF8.GetBytes(json);
        await RawHttpBackend.WriteHeadAsync(
            connection,
            "200 OK",
            ["Content-Type: application/json;charset=utf-8", $"Content-Length: {body.Length}", "Connection: close"],
            ct);
        await connection.WriteAsync(body, ct);
    }
}
