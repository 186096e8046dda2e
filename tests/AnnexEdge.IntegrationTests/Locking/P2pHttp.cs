using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace AnnexEdge.IntegrationTests.Locking;

/// <summary>Small p2phttp client calls for lock tests, against the edge or straight against a node.</summary>
internal static class P2pHttp
{
    public const string ClientUuid = "79a5a1f4-07e8-11ef-873d-97f93ca91925";

    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(30) };

    public static string Url(string baseUrl, string uuid, string endpoint, string? key = null, string clientUuid = ClientUuid) =>
        $"{baseUrl}/git-annex/{uuid}/v4/{endpoint}?clientuuid={clientUuid}" + (key is null ? "" : "&key=" + Uri.EscapeDataString(key));

    /// <summary>Stores random content of the given size on the repository and returns its key and bytes.</summary>
    public static async Task<(string Key, byte[] Data)> PutRandomAsync(string baseUrl, string uuid, int size)
    {
        var data = RandomNumberGenerator.GetBytes(size);
        var key = $"SHA256E-s{size}--{Convert.ToHexStringLower(SHA256.HashData(data))}";
        using var content = new ByteArrayContent(data);
        content.Headers.Add("X-git-annex-data-length", size.ToString());
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using var response = await Http.PostAsync(Url(baseUrl, uuid, "put", key), content);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode && body.Contains("\"stored\":true"), $"put failed: {(int)response.StatusCode} {body}");
        return (key, data);
    }

    public static async Task<JsonElement> PostJsonAsync(string url, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(20));
        using var response = await Http.PostAsync(url, null, cts.Token);
        var body = await response.Content.ReadAsStringAsync(cts.Token);
        Assert.True(response.IsSuccessStatusCode, $"{url} answered {(int)response.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    /// <summary>Whether the server answers gettimestamp (which needs a p2phttp worker) within the time given.</summary>
    public static async Task<bool> AnswersAsync(string baseUrl, string uuid, TimeSpan within)
    {
        try
        {
            using var cts = new CancellationTokenSource(within);
            using var response = await Http.PostAsync(Url(baseUrl, uuid, "gettimestamp"), null, cts.Token);
            return response.IsSuccessStatusCode;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>A keeplocked long poll opened on a raw socket, so a test can send lines, stay silent or hang up.</summary>
    public sealed class KeepLocked : IDisposable
    {
        private readonly Socket _socket;

        private KeepLocked(Socket socket) => _socket = socket;

        public static async Task<KeepLocked> OpenAsync(string baseUrl, string uuid, string lockId)
        {
            var uri = new Uri(baseUrl);
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync(uri.Host, uri.Port);
            var head = $"POST /git-annex/{uuid}/v4/keeplocked?lockid={Uri.EscapeDataString(lockId)}&clientuuid={ClientUuid} HTTP/1.1\r\n"
                + $"Host: {uri.Authority}\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json;charset=utf-8\r\nConnection: Keep-Alive\r\n\r\n";
            await socket.SendAsync(Encoding.ASCII.GetBytes(head));
            var keep = new KeepLocked(socket);
            await keep.SendLineAsync("");
            return keep;
        }

        public Task SendLineAsync(string line)
        {
            var bytes = Encoding.UTF8.GetBytes(line + "\n");
            return _socket.SendAsync(Encoding.ASCII.GetBytes($"{bytes.Length:x}\r\n").Concat(bytes).Concat("\r\n"u8.ToArray()).ToArray());
        }

        /// <summary>Sends unlock, ends the body and returns the answer's head and body as text.</summary>
        public async Task<string> UnlockAsync()
        {
            await SendLineAsync("{\"unlock\": true}");
            await _socket.SendAsync("0\r\n\r\n"u8.ToArray());
            return await ReadAnswerAsync();
        }

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

        /// <summary>Hangs up without unlocking, as a killed client would.</summary>
        public void Dispose() => _socket.Dispose();
    }
}
