using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;

namespace AnnexEdge.IntegrationTests.Fixtures;

/// <summary>Raw p2phttp requests as a git-annex client sends them, against a node or the edge.</summary>
public static class P2pHttp
{
    /// <summary>The clientuuid of test requests.</summary>
    public const string ClientUuid = "11111111-2222-4333-8444-555555555555";

    public static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(60) };

    /// <summary>Base of a repository's API: <c>{baseUrl}/git-annex/{uuid}</c>.</summary>
    public static string Api(string baseUrl, string uuid) => $"{baseUrl.TrimEnd('/')}/git-annex/{uuid}";

    /// <summary>Random content and its SHA256E key.</summary>
    public static (byte[] Data, string Key) RandomObject(int size)
    {
        var data = RandomNumberGenerator.GetBytes(size);
        return (data, $"SHA256E-s{size}--{Convert.ToHexStringLower(SHA256.HashData(data))}");
    }

    /// <summary>
    /// The URL of a v4 request: <c>{api}/v4/{endpoint}?key=…&amp;clientuuid=…</c> (no key when none is given),
    /// from another client when <paramref name="clientUuid"/> is given.
    /// </summary>
    public static string Url(string api, string endpoint, string? key = null, string clientUuid = ClientUuid) =>
        $"{api}/v4/{endpoint}?" + (key is null ? "" : $"key={Uri.EscapeDataString(key)}&") + $"clientuuid={clientUuid}";

    public static async Task<(int Status, string Body)> PostAsync(string url, HttpContent? content = null, CancellationToken cancellationToken = default)
    {
        using var response = await Http.PostAsync(url, content, cancellationToken);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync(cancellationToken));
    }

    public static async Task PutObjectAsync(string api, string key, byte[] data)
    {
        var content = new ByteArrayContent(data);
        content.Headers.Add("X-git-annex-data-length", data.Length.ToString());
        var (status, body) = await PostAsync($"{api}/v4/put?key={key}&clientuuid={ClientUuid}", content);
        Assert.True(status == 200 && body.Contains("\"stored\":true"), $"put answered {status} {body}");
    }

    /// <summary>Stores random content of the given size on the repository and returns it with its key.</summary>
    public static async Task<(byte[] Data, string Key)> PutRandomObjectAsync(string api, int size)
    {
        var (data, key) = RandomObject(size);
        await PutObjectAsync(api, key, data);
        return (data, key);
    }

    /// <summary>
    /// POSTs a bodiless request and returns its JSON answer, failing the test on a status other than 2xx. Throws
    /// <see cref="OperationCanceledException"/> when no answer came within the timeout (20 s unless given).
    /// </summary>
    /// <summary>
    /// GETs an object's content, asking again (up to three times) when the answer stalls for 10 s: git-annex
    /// 10.20250416's p2phttp now and then stops a GET's answer a few bytes before its end, most often the first GET
    /// after the content was added, directly or through any proxy (bench/README.md). Such a stall is the node's, so a
    /// test about something else waits it out instead of failing on it.
    /// </summary>
    public static async Task<byte[]> GetContentAsync(string url, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await http.GetByteArrayAsync(url, cancellationToken);
            }
            catch (TaskCanceledException) when (attempt < 3 && !cancellationToken.IsCancellationRequested)
            {
            }
        }
    }

    public static async Task<JsonElement> PostJsonAsync(string url, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(20));
        var (status, body) = await PostAsync(url, cancellationToken: cts.Token);
        Assert.True(status is >= 200 and < 300, $"{url} answered {status}: {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    /// <summary>Whether the repository answers gettimestamp (which needs a p2phttp worker) within the time given.</summary>
    public static async Task<bool> AnswersAsync(string api, TimeSpan within)
    {
        try
        {
            using var cts = new CancellationTokenSource(within);
            var (status, _) = await PostAsync(Url(api, "gettimestamp"), cancellationToken: cts.Token);
            return status is >= 200 and < 300;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>lockcontent; returns the lockid of a granted lock, or fails the test.</summary>
    public static async Task<string> LockAsync(string api, string key)
    {
        var (status, body) = await PostAsync($"{api}/v4/lockcontent?key={key}&clientuuid={ClientUuid}");
        Assert.Equal(200, status);
        using var json = JsonDocument.Parse(body);
        Assert.True(json.RootElement.GetProperty("locked").GetBoolean(), $"lockcontent answered {body}");
        return json.RootElement.GetProperty("lockid").GetString()!;
    }

    public static async Task<bool> IsPresentAsync(string api, string key)
    {
        var (status, body) = await PostAsync($"{api}/v4/checkpresent?key={key}&clientuuid={ClientUuid}");
        Assert.Equal(200, status);
        return body.Contains("\"present\":true");
    }
}

/// <summary>
/// Whether a node's repository holds a key's content lock, seen from outside p2phttp: <c>git annex dropkey</c> in
/// the repository takes the exclusive content lock, which a lock held by any p2phttp process on it denies.
/// </summary>
/// <remarks>
/// A <c>remove</c> sent to p2phttp is no probe: git-annex 10.20250416 does not answer a remove of a locked key
/// while the lock is held, and such a pending remove may still run after the unlock.
/// </remarks>
public static class ContentLock
{
    public static Task AssertHeldAsync(P2pNode node, string key) => AssertHeldAsync(node.RepositoryPath, key);

    /// <summary>The same for the repository at this path (a node behind a git-annex gateway, say).</summary>
    public static async Task AssertHeldAsync(string repositoryPath, string key)
    {
        var drop = await ProcessRunner.RunAsync("git", ["annex", "dropkey", "--force", key], repositoryPath);
        Assert.True(drop.ExitCode != 0 && drop.Output.Contains("content is locked"), $"dropkey of a locked key: exit {drop.ExitCode}\n{drop.Output}");
        var present = await ProcessRunner.RunAsync("git", ["annex", "contentlocation", key], repositoryPath);
        Assert.True(present.ExitCode == 0 && present.Output.Trim().Length > 0, "the locked key was dropped");
    }

    /// <summary>
    /// Drops the key in the node's repository, which only works when no lock on it is held. The unlock answer can
    /// reach the client before the p2phttp worker has let go of the lock, so the drop is retried until it succeeds
    /// or 30 s have passed (a lock left held by the wrong replica stays held far longer).
    /// </summary>
    public static Task AssertReleasedByDroppingAsync(P2pNode node, string key) =>
        AssertReleasedByDroppingAsync(node.RepositoryPath, key, () => node.Logs);

    /// <summary>The same for the repository at this path; <paramref name="logs"/> explains a failure.</summary>
    public static async Task AssertReleasedByDroppingAsync(string repositoryPath, string key, Func<string> logs)
    {
        ProcessRunner.Result? drop = null;
        await Eventually.Async(
            async () => (drop = await ProcessRunner.RunAsync("git", ["annex", "dropkey", "--force", key], repositoryPath)).ExitCode == 0,
            TimeSpan.FromSeconds(30),
            "dropkey once every lock is released",
            () => $"last dropkey: exit {drop?.ExitCode}\n{drop?.Output}\n{logs()}");
        var present = await ProcessRunner.RunAsync("git", ["annex", "contentlocation", key], repositoryPath);
        Assert.False(present.ExitCode == 0 && present.Output.Trim().Length > 0, "the key is still there after the drop");
    }
}

/// <summary>
/// An open <c>keeplocked</c> request whose body is streamed line by line, as git-annex's client does:
/// <c>{"unlock": false}</c> at once, <c>{"unlock": true}</c> when the client is done with the lock.
/// </summary>
public sealed class KeepLockedSession : IAsyncDisposable
{
    private readonly LineContent _body = new();
    private readonly Task<HttpResponseMessage> _response;

    private KeepLockedSession(string url, HttpClient http)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = _body };
        _response = http.SendAsync(request, HttpCompletionOption.ResponseContentRead);
    }

    public static KeepLockedSession Open(string api, string lockId, HttpClient? http = null)
    {
        var session = new KeepLockedSession(
            $"{api}/v4/keeplocked?lockid={Uri.EscapeDataString(lockId)}&clientuuid={P2pHttp.ClientUuid}", http ?? P2pHttp.Http);
        session._body.Send("{\"unlock\": false}\n");
        return session;
    }

    /// <summary>Whether an answer came already (a held lock has none until the client unlocks).</summary>
    public bool Answered => _response.IsCompleted;

    /// <summary>Sends unlock, ends the body and returns the answer.</summary>
    public async Task<(int Status, string Body)> UnlockAsync()
    {
        _body.Send("{\"unlock\": true}\n");
        _body.End();
        return await AnswerAsync();
    }

    public async Task<(int Status, string Body)> AnswerAsync()
    {
        using var response = await _response;
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    public async ValueTask DisposeAsync()
    {
        _body.End();
        try
        {
            (await _response).Dispose();
        }
        catch (HttpRequestException)
        {
        }
        catch (TaskCanceledException)
        {
        }
    }

    /// <summary>A chunked request body that sends (and flushes) each line when it is given.</summary>
    private sealed class LineContent : HttpContent
    {
        private readonly Channel<string> _lines = Channel.CreateUnbounded<string>();

        public LineContent()
        {
            Headers.ContentType = new MediaTypeHeaderValue("application/x-ndjson");
        }

        public void Send(string line) => _lines.Writer.TryWrite(line);

        public void End() => _lines.Writer.TryComplete();

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            await foreach (var line in _lines.Reader.ReadAllAsync())
            {
                await stream.WriteAsync(Encoding.UTF8.GetBytes(line));
                await stream.FlushAsync();
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}

/// <summary>
/// A <c>keeplocked</c> request on a raw socket, for tests of clients that break the long poll's rules: it sends
/// any line, reads the answer while its body is still open, and hangs up without ending the body.
/// <see cref="KeepLockedSession"/> cannot do these: HttpClient hands back no answer before the request body has
/// ended (and then fails the request once the edge has answered and closed), and the session always ends its body.
/// </summary>
public sealed class MisbehavingKeepLockedClient : IDisposable
{
    private readonly Socket _socket;

    private MisbehavingKeepLockedClient(Socket socket) => _socket = socket;

    /// <summary>Opens the request with a chunked body and sends the blank first line git-annex sends.</summary>
    public static async Task<MisbehavingKeepLockedClient> OpenAsync(string api, string lockId)
    {
        var uri = new Uri(api);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(uri.Host, uri.Port);
        var head = $"POST {uri.AbsolutePath}/v4/keeplocked?lockid={Uri.EscapeDataString(lockId)}&clientuuid={P2pHttp.ClientUuid} HTTP/1.1\r\n"
            + $"Host: {uri.Authority}\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json;charset=utf-8\r\nConnection: Keep-Alive\r\n\r\n";
        await socket.SendAsync(Encoding.ASCII.GetBytes(head));
        var client = new MisbehavingKeepLockedClient(socket);
        await client.SendLineAsync("");
        return client;
    }

    /// <summary>Sends the line and a newline as one chunk of the body.</summary>
    public Task SendLineAsync(string line)
    {
        var bytes = Encoding.UTF8.GetBytes(line + "\n");
        return _socket.SendAsync(Encoding.ASCII.GetBytes($"{bytes.Length:x}\r\n").Concat(bytes).Concat("\r\n"u8.ToArray()).ToArray());
    }

    /// <summary>Reads the answer, head and chunked body, as text (until its last chunk, a hang-up or 20 s).</summary>
    public async Task<string> ReadAnswerAsync()
    {
        var buffer = new byte[8192];
        var text = new StringBuilder();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (!text.ToString().Contains("\r\n0\r\n\r\n", StringComparison.Ordinal))
        {
            var n = await _socket.ReceiveAsync(buffer, cts.Token);
            if (n == 0)
            {
                break;
            }

            text.Append(Encoding.UTF8.GetString(buffer, 0, n));
        }

        return text.ToString();
    }

    /// <summary>Hangs up without unlocking or ending the body, as a killed client would.</summary>
    public void Dispose() => _socket.Dispose();
}
