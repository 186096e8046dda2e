using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using AnnexEdge.IntegrationTests.Fixtures;
using AnnexEdge.Protocol;
using WireMock.Server;

namespace AnnexEdge.IntegrationTests;

/// <summary>
/// The edge answers every request, malformed or not, as the real node behind it does; a request the node would
/// refuse is refused by the edge itself and never reaches a backend.
/// </summary>
public sealed class ProtocolParityTests(ProtocolParityTests.Lab lab) : IClassFixture<ProtocolParityTests.Lab>
{
    // Requests the node refuses carry no body: p2phttp (Warp) closes without reading it, and the unread bytes turn
    // its close into a reset that can destroy its answer before the test reads it.
    /// <summary>name, method, target (placeholders {U} {K} {A} {C} {BK} {BU} {X}), extra header lines, body.</summary>
    private static readonly (string Name, string Method, string Target, string Headers, string Body)[] Cases =
    [
        ("checkpresent", "POST", "/git-annex/{U}/v4/checkpresent?key={K}&clientuuid={C}", "", ""),
        ("checkpresent v0", "POST", "/git-annex/{U}/v0/checkpresent?key={K}&clientuuid={C}", "", ""),
        ("GET on checkpresent", "GET", "/git-annex/{U}/v4/checkpresent?key={K}&clientuuid={C}", "", ""),
        ("PUT on checkpresent", "PUT", "/git-annex/{U}/v4/checkpresent?key={K}&clientuuid={C}", "", ""),
        ("version v5", "POST", "/git-annex/{U}/v5/checkpresent?key={K}&clientuuid={C}", "", ""),
        ("version v10", "POST", "/git-annex/{U}/v10/checkpresent?key={K}&clientuuid={C}", "", ""),
        ("version V4", "POST", "/git-annex/{U}/V4/checkpresent?key={K}&clientuuid={C}", "", ""),
        ("version without v", "POST", "/git-annex/{U}/4/checkpresent?key={K}&clientuuid={C}", "", ""),
        ("unknown endpoint", "POST", "/git-annex/{U}/v4/nosuch?key={K}&clientuuid={C}", "", ""),
        ("endpoint name in capitals", "POST", "/git-annex/{U}/v4/CHECKPRESENT?key={K}&clientuuid={C}", "", ""),
        ("no clientuuid", "POST", "/git-annex/{U}/v4/checkpresent?key={K}", "", ""),
        ("empty clientuuid", "POST", "/git-annex/{U}/v4/checkpresent?key={K}&clientuuid=", "", ""),
        ("clientuuid without =", "POST", "/git-annex/{U}/v4/checkpresent?key={K}&clientuuid", "", ""),
        ("clientuuid garbage brackets", "POST", "/git-annex/{U}/v4/checkpresent?key={K}&clientuuid=[!!!!]", "", ""),
        ("clientuuid bracket base64", "POST", "/git-annex/{U}/v4/checkpresent?key={K}&clientuuid=[Zm9v]", "", ""),
        ("clientuuid not a uuid", "POST", "/git-annex/{U}/v4/checkpresent?key={K}&clientuuid=foo", "", ""),
        ("clientuuid twice", "POST", "/git-annex/{U}/v4/checkpresent?key={K}&clientuuid={C}&clientuuid=", "", ""),
        ("no key", "POST", "/git-annex/{U}/v4/checkpresent?clientuuid={C}", "", ""),
        ("empty key", "POST", "/git-annex/{U}/v4/checkpresent?key=&clientuuid={C}", "", ""),
        ("key not a key", "POST", "/git-annex/{U}/v4/checkpresent?key=notakey&clientuuid={C}", "", ""),
        ("key with bad size field", "POST", "/git-annex/{U}/v4/checkpresent?key=SHA256E-sx--abc&clientuuid={C}", "", ""),
        ("key bracket base64", "POST", "/git-annex/{U}/v4/checkpresent?key={BK}&clientuuid={C}", "", ""),
        ("key bracket base64 of garbage", "POST", "/git-annex/{U}/v4/checkpresent?key=[Zm9v]&clientuuid={C}", "", ""),
        ("key bracket bad padding", "POST", "/git-annex/{U}/v4/checkpresent?key=[Zm9]&clientuuid={C}", "", ""),
        ("key bracket not base64", "POST", "/git-annex/{U}/v4/checkpresent?key=[!!!!]&clientuuid={C}", "", ""),
        ("key percent-encoded", "POST", "/git-annex/{U}/v4/checkpresent?key={PK}&clientuuid={C}", "", ""),
        ("bypass garbage", "POST", "/git-annex/{U}/v4/checkpresent?key={K}&clientuuid={C}&bypass=[!!!!]", "", ""),
        ("bypass valid", "POST", "/git-annex/{U}/v4/checkpresent?key={K}&clientuuid={C}&bypass={X}", "", ""),
        ("GET key", "GET", "/git-annex/{U}/v4/key/{K}?clientuuid={C}", "", ""),
        ("GET key of an absent key", "GET", "/git-annex/{U}/v4/key/{A}?clientuuid={C}", "", ""),
        ("HEAD key", "HEAD", "/git-annex/{U}/v4/key/{K}?clientuuid={C}", "", ""),
        ("POST on key", "POST", "/git-annex/{U}/v4/key/{K}?clientuuid={C}", "", ""),
        ("GET key offset", "GET", "/git-annex/{U}/v4/key/{K}?clientuuid={C}&offset=2", "", ""),
        ("GET key offset garbage", "GET", "/git-annex/{U}/v4/key/{K}?clientuuid={C}&offset=abc", "", ""),
        ("GET key offset empty", "GET", "/git-annex/{U}/v4/key/{K}?clientuuid={C}&offset=", "", ""),
        ("GET key offset fraction", "GET", "/git-annex/{U}/v4/key/{K}?clientuuid={C}&offset=1.5", "", ""),
        ("GET key not a key", "GET", "/git-annex/{U}/v4/key/notakey?clientuuid={C}", "", ""),
        ("GET key bracket base64", "GET", "/git-annex/{U}/v4/key/{BK}?clientuuid={C}", "", ""),
        ("GET key without clientuuid", "GET", "/git-annex/{U}/v4/key/{K}", "", ""),
        ("GET key associatedfile garbage", "GET", "/git-annex/{U}/v4/key/{K}?clientuuid={C}&associatedfile=[!!!!]", "", ""),
        ("GET key v0", "GET", "/git-annex/{U}/v0/key/{K}?clientuuid={C}", "", ""),
        ("unversioned GET key", "GET", "/git-annex/{U}/key/{K}", "", ""),
        ("unversioned POST key", "POST", "/git-annex/{U}/key/{K}", "", ""),
        ("unversioned GET key not a key", "GET", "/git-annex/{U}/key/notakey", "", ""),
        ("remove-before without timestamp", "POST", "/git-annex/{U}/v4/remove-before?key={A}&clientuuid={C}", "", ""),
        ("remove-before timestamp garbage", "POST", "/git-annex/{U}/v4/remove-before?key={A}&clientuuid={C}&timestamp=abc", "", ""),
        ("remove-before timestamp fraction", "POST", "/git-annex/{U}/v4/remove-before?key={A}&clientuuid={C}&timestamp=1.5", "", ""),
        ("remove-before in v2", "POST", "/git-annex/{U}/v2/remove-before?key={A}&clientuuid={C}&timestamp=1", "", ""),
        ("gettimestamp in v2", "POST", "/git-annex/{U}/v2/gettimestamp?clientuuid={C}", "", ""),
        ("gettimestamp without clientuuid", "POST", "/git-annex/{U}/v4/gettimestamp", "", ""),
        ("remove of an absent key", "POST", "/git-annex/{U}/v4/remove?key={A}&clientuuid={C}", "", ""),
        ("lockcontent of an absent key", "POST", "/git-annex/{U}/v4/lockcontent?key={A}&clientuuid={C}", "", ""),
        ("lockcontent without key", "POST", "/git-annex/{U}/v4/lockcontent?clientuuid={C}", "", ""),
        ("putoffset of an absent key", "POST", "/git-annex/{U}/v4/putoffset?key={A}&clientuuid={C}", "", ""),
        ("putoffset in v0", "POST", "/git-annex/{U}/v0/putoffset?key={A}&clientuuid={C}", "", ""),
        ("put without data-length", "POST", "/git-annex/{U}/v4/put?key={A}&clientuuid={C}", "", ""),
        ("put data-length garbage", "POST", "/git-annex/{U}/v4/put?key={A}&clientuuid={C}", "X-git-annex-data-length: abc\r\n", ""),
        ("put data-present garbage", "POST", "/git-annex/{U}/v4/put?key={A}&clientuuid={C}&data-present=maybe", "X-git-annex-data-length: 0\r\n", ""),
        ("put content not hashing to the key", "POST", "/git-annex/{U}/v4/put?key={A}&clientuuid={C}", "X-git-annex-data-length: 3\r\n", "abc"),
        ("keeplocked without lockid", "POST", "/git-annex/{U}/v4/keeplocked?clientuuid={C}", "", ""),
        ("keeplocked empty lockid", "POST", "/git-annex/{U}/v4/keeplocked?lockid=&clientuuid={C}", "", ""),
        ("keeplocked lockid garbage brackets", "POST", "/git-annex/{U}/v4/keeplocked?lockid=[!!!!]&clientuuid={C}", "", ""),
        ("trailing slash", "POST", "/git-annex/{U}/v4/checkpresent/?key={K}&clientuuid={C}", "", ""),
        ("double slash in the path", "POST", "/git-annex/{U}//v4/checkpresent?key={K}&clientuuid={C}", "", ""),
        ("double slash after git-annex", "POST", "/git-annex//{U}/v4/checkpresent?key={K}&clientuuid={C}", "", ""),
        ("percent-encoded endpoint", "POST", "/git-annex/{U}/v4/check%70resent?key={K}&clientuuid={C}", "", ""),
        ("percent-encoded slash", "POST", "/git-annex/{U}/v4%2Fcheckpresent?key={K}&clientuuid={C}", "", ""),
        ("bracket base64 UUID in the path", "POST", "/git-annex/{BU}/v4/checkpresent?key={K}&clientuuid={C}", "", ""),
        ("garbage brackets as UUID", "POST", "/git-annex/[!!!!]/v4/checkpresent?key={K}&clientuuid={C}", "", ""),
        ("unknown UUID", "POST", "/git-annex/{X}/v4/checkpresent?key={K}&clientuuid={C}", "", ""),
        ("UUID that is not a UUID", "POST", "/git-annex/notauuid/v4/checkpresent?key={K}&clientuuid={C}", "", ""),
        ("repository path only", "GET", "/git-annex/{U}", "", ""),
        ("version path only", "POST", "/git-annex/{U}/v4", "", ""),
        ("too many segments", "POST", "/git-annex/{U}/v4/checkpresent/extra?key={K}&clientuuid={C}", "", ""),
    ];

    public static TheoryData<string> CaseNames => new(Cases.Select(c => c.Name));

    [Theory]
    [MemberData(nameof(CaseNames))]
    public async Task The_edge_answers_as_the_node_and_forwards_nothing_the_node_refuses(string name)
    {
        var c = Cases.Single(x => x.Name == name);
        var target = lab.Expand(c.Target);
        var fromNode = await RawHttp.SendAsync(lab.Node.Url, c.Method, target, c.Headers, c.Body);
        var fromEdge = await RawHttp.SendAsync(lab.Edge.Url, c.Method, target, c.Headers, c.Body);

        Assert.True(fromNode.Status == fromEdge.Status, $"{name}: node {fromNode}, edge {fromEdge}");
        if (fromNode.Status is >= 400 and < 500)
        {
            Assert.True(fromNode.Body == fromEdge.Body, $"{name}: node {fromNode}, edge {fromEdge}");

            var contacted = lab.Recorder.LogEntries.Count;
            var fromRecordingEdge = await RawHttp.SendAsync(lab.RecordingEdge.Url, c.Method, target, c.Headers, c.Body);
            if (lab.Recorder.LogEntries.Count != contacted)
            {
                Assert.Fail($"{name}: the edge forwarded a request the node refuses: {lab.Recorder.LogEntries[^1].RequestMessage.Url}");
            }

            Assert.Equal(fromNode.ToString(), fromRecordingEdge.ToString());
        }
        else if (!name.Contains("gettimestamp"))
        {
            Assert.True(fromNode.Body == fromEdge.Body, $"{name}: node {fromNode}, edge {fromEdge}");
        }
    }

    [Fact]
    public async Task The_recording_backend_sees_what_the_edge_forwards()
    {
        var before = lab.Recorder.LogEntries.Count;
        await RawHttp.SendAsync(lab.RecordingEdge.Url, "POST", lab.Expand("/git-annex/{U}/v4/checkpresent?key={K}&clientuuid={C}"), "", "");
        Assert.Equal(before + 1, lab.Recorder.LogEntries.Count);
    }

    /// <remarks>
    /// git-annex 10.20250416 answers offset=-1 with 200, <c>X-git-annex-data-length</c> one more than the size and no
    /// body. The edge does not pass on an answer shorter than it announces: it ends the client's connection, so a
    /// client can never take it for a complete object.
    /// </remarks>
    [Fact]
    public async Task A_download_the_node_answers_shorter_than_announced_ends_the_edge_connection()
    {
        var target = lab.Expand("/git-annex/{U}/v4/key/{K}?clientuuid={C}&offset=-1");
        using var http = new HttpClient();
        using (var fromNode = await http.GetAsync(lab.Node.Url + target, TestContext.Current.CancellationToken))
        {
            Assert.Equal(200, (int)fromNode.StatusCode);
            Assert.Equal("1001", fromNode.Headers.GetValues("X-git-annex-data-length").Single());
            Assert.Empty(await fromNode.Content.ReadAsByteArrayAsync(TestContext.Current.CancellationToken));
        }

        await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            using var fromEdge = await http.GetAsync(lab.Edge.Url + target, TestContext.Current.CancellationToken);
            await fromEdge.Content.ReadAsByteArrayAsync(TestContext.Current.CancellationToken);
        });
    }

    [Fact]
    public void The_case_list_covers_at_least_40_requests() => Assert.True(Cases.Length >= 40 && Cases.DistinctBy(c => c.Name).Count() == Cases.Length);

    /// <summary>A real node, an edge in front of it, and a second edge whose backend is a recording WireMock server.</summary>
    public sealed class Lab : IAsyncLifetime
    {
        private P2pNode? _node;
        private EdgeHost? _edge;
        private EdgeHost? _recordingEdge;
        private WireMockServer? _recorder;
        private string _key = "";
        private string _absent = "";

        public P2pNode Node => _node!;

        public EdgeHost Edge => _edge!;

        public EdgeHost RecordingEdge => _recordingEdge!;

        public WireMockServer Recorder => _recorder!;

        public string Expand(string target) => target
            .Replace("{U}", Node.Uuid).Replace("{BU}", Base64Bracket.Encode(Node.Uuid))
            .Replace("{BK}", Base64Bracket.Encode(_key)).Replace("{PK}", Uri.EscapeDataString(_key).Replace("-", "%2D"))
            .Replace("{K}", _key).Replace("{A}", _absent).Replace("{C}", P2pHttp.ClientUuid)
            .Replace("{X}", "9a7e0000-0000-4000-8000-0000000000ff");

        public async ValueTask InitializeAsync()
        {
            _node = await P2pNode.StartAsync("node1");
            _edge = await EdgeHost.StartAsync(_node);
            _recorder = WireMockServer.Start();
            var config = EdgeHost.ConfigFor(_node);
            config["Repositories"]![0]!["Backends"] = new JsonArray(JsonValue.Create(_recorder.Url!)!);
            config["HealthChecks"] = new JsonObject { ["Enabled"] = false };
            _recordingEdge = await EdgeHost.StartAsync(config);

            var (data, key) = P2pHttp.RandomObject(1000);
            await P2pHttp.PutObjectAsync(P2pHttp.Api(_node.Url, _node.Uuid), key, data);
            _key = key;
            _absent = P2pHttp.RandomObject(10).Key;
        }

        public async ValueTask DisposeAsync()
        {
            if (_recordingEdge is not null)
            {
                await _recordingEdge.DisposeAsync();
            }

            if (_edge is not null)
            {
                await _edge.DisposeAsync();
            }

            _recorder?.Stop();
            _recorder?.Dispose();
            if (_node is not null)
            {
                await _node.DisposeAsync();
            }
        }
    }

    /// <summary>An HTTP/1.1 exchange with the request line sent byte for byte (no client-side path normalisation).</summary>
    private static class RawHttp
    {
        public sealed record Answer(int Status, string Body)
        {
            public override string ToString() => $"{Status} \"{Body}\"";
        }

        public static async Task<Answer> SendAsync(string baseUrl, string method, string target, string headers, string body)
        {
            var uri = new Uri(baseUrl);
            using var tcp = new TcpClient();
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            await tcp.ConnectAsync(uri.Host, uri.Port, cts.Token);
            var stream = tcp.GetStream();
            var bodyBytes = Encoding.UTF8.GetBytes(body);
            var length = method is "GET" or "HEAD" && bodyBytes.Length == 0 ? "" : $"Content-Length: {bodyBytes.Length}\r\n";
            var head = $"{method} {target} HTTP/1.1\r\nHost: {uri.Authority}\r\nConnection: close\r\n{headers}{length}\r\n";
            await stream.WriteAsync(Encoding.ASCII.GetBytes(head), cts.Token);
            await stream.WriteAsync(bodyBytes, cts.Token);

            using var response = new MemoryStream();
            await stream.CopyToAsync(response, cts.Token);
            var bytes = response.ToArray();
            var split = bytes.AsSpan().IndexOf("\r\n\r\n"u8);
            Assert.True(split > 0, $"no HTTP answer to {method} {target}: {Encoding.UTF8.GetString(bytes)}");
            var headLines = Encoding.ASCII.GetString(bytes, 0, split).Split("\r\n");
            var status = int.Parse(headLines[0].Split(' ')[1]);
            var content = bytes[(split + 4)..];
            if (headLines.Any(h => h.StartsWith("Transfer-Encoding:", StringComparison.OrdinalIgnoreCase) && h.Contains("chunked")))
            {
                content = Dechunk(content);
            }

            return new Answer(status, Encoding.UTF8.GetString(content));
        }

        private static byte[] Dechunk(byte[] chunked)
        {
            using var result = new MemoryStream();
            var pos = 0;
            while (true)
            {
                var eol = pos + chunked.AsSpan(pos).IndexOf("\r\n"u8);
                var size = Convert.ToInt32(Encoding.ASCII.GetString(chunked, pos, eol - pos).Split(';')[0], 16);
                if (size == 0)
                {
                    return result.ToArray();
                }

                result.Write(chunked, eol + 2, size);
                pos = eol + 2 + size + 2;
            }
        }
    }
}
