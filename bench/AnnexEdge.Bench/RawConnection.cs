using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;

namespace AnnexEdge.Bench;

/// <summary>
/// One HTTP/1.1 connection written by hand, so the benchmark controls exactly what is on the wire: which local address
/// it comes from, that it stays open idle, and a keeplocked body that stays open.
/// </summary>
internal sealed class RawConnection : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly Stream _stream;
    private readonly string _host;
    private readonly byte[] _buffer = new byte[2048];
    private int _start;
    private int _end;

    private RawConnection(Socket socket, Stream stream, string host)
    {
        _socket = socket;
        _stream = stream;
        _host = host;
    }

    public static async Task<RawConnection> OpenAsync(Uri url, IPAddress source, CancellationToken cancel)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            socket.Bind(new IPEndPoint(source, 0));
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Parse(url.Host), url.Port), cancel);
            Stream stream = new NetworkStream(socket, ownsSocket: true);
            if (url.Scheme == Uri.UriSchemeHttps)
            {
                var ssl = new SslStream(stream);
                stream = ssl;
                await ssl.AuthenticateAsClientAsync(
                    new SslClientAuthenticationOptions { TargetHost = url.Host, CertificateChainPolicy = Tls.BenchPolicy() }, cancel);
            }

            return new RawConnection(socket, stream, url.Authority);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Whether the peer has closed the connection or sent something (to an idle connection or an open keeplocked,
    /// either means it is no longer held). Looks without reading.
    /// </summary>
    public bool PeerClosedOrAnswered => _start < _end || _socket.Poll(0, SelectMode.SelectRead);

    public async Task<(int Status, string Body)> PostAsync(string pathAndQuery, CancellationToken cancel)
    {
        await WriteAsync($"POST {pathAndQuery} HTTP/1.1\r\nHost: {_host}\r\nContent-Length: 0\r\n\r\n", cancel);
        return await ReadResponseAsync(cancel);
    }

    /// <summary>Sends a request's head with a chunked body that stays open, and a blank line as git-annex sends first.</summary>
    public Task StartChunkedPostAsync(string pathAndQuery, CancellationToken cancel) =>
        WriteAsync($"POST {pathAndQuery} HTTP/1.1\r\nHost: {_host}\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n\n\r\n", cancel);

    public async Task<(int Status, string Body)> EndChunkedPostAsync(string lastLine, CancellationToken cancel)
    {
        var chunk = lastLine + "\n";
        await WriteAsync(string.Create(CultureInfo.InvariantCulture, $"{Encoding.UTF8.GetByteCount(chunk):x}\r\n{chunk}\r\n0\r\n\r\n"), cancel);
        return await ReadResponseAsync(cancel);
    }

    public ValueTask DisposeAsync() => _stream.DisposeAsync();

    private async Task WriteAsync(string text, CancellationToken cancel)
    {
        await _stream.WriteAsync(Encoding.UTF8.GetBytes(text), cancel);
        await _stream.FlushAsync(cancel);
    }

    private async Task<(int Status, string Body)> ReadResponseAsync(CancellationToken cancel)
    {
        var statusLine = await ReadLineAsync(cancel);
        var parts = statusLine.Split(' ', 3);
        if (parts.Length < 2 || !int.TryParse(parts[1], CultureInfo.InvariantCulture, out var status))
        {
            throw new InvalidDataException($"not an HTTP status line: '{statusLine}'");
        }

        long? length = null;
        var chunked = false;
        for (var line = await ReadLineAsync(cancel); line.Length > 0; line = await ReadLineAsync(cancel))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var name = colon < 0 ? line : line[..colon].Trim();
            var value = colon < 0 ? "" : line[(colon + 1)..].Trim();
            if (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                length = long.Parse(value, CultureInfo.InvariantCulture);
            }
            else if (name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase))
            {
                chunked = value.Contains("chunked", StringComparison.OrdinalIgnoreCase);
            }
        }

        var body = new MemoryStream();
        if (chunked)
        {
            while (true)
            {
                var sizeLine = await ReadLineAsync(cancel);
                var size = int.Parse(sizeLine.Split(';')[0].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                if (size == 0)
                {
                    while ((await ReadLineAsync(cancel)).Length > 0)
                    {
                    }

                    break;
                }

                await ReadExactlyAsync(body, size, cancel);
                await ReadLineAsync(cancel);
            }
        }
        else if (length is { } n)
        {
            await ReadExactlyAsync(body, n, cancel);
        }

        return (status, Encoding.UTF8.GetString(body.ToArray()));
    }

    private async Task<string> ReadLineAsync(CancellationToken cancel)
    {
        var line = new StringBuilder();
        while (true)
        {
            if (_start == _end)
            {
                await FillAsync(cancel);
            }

            var newline = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
            var stop = newline < 0 ? _end : newline;
            line.Append(Encoding.ASCII.GetString(_buffer, _start, stop - _start));
            _start = newline < 0 ? _end : newline + 1;
            if (newline >= 0)
            {
                return line.ToString().TrimEnd('\r');
            }
        }
    }

    private async Task ReadExactlyAsync(MemoryStream into, long count, CancellationToken cancel)
    {
        while (count > 0)
        {
            if (_start == _end)
            {
                await FillAsync(cancel);
            }

            var take = (int)Math.Min(count, _end - _start);
            into.Write(_buffer, _start, take);
            _start += take;
            count -= take;
        }
    }

    private async Task FillAsync(CancellationToken cancel)
    {
        _start = 0;
        _end = await _stream.ReadAsync(_buffer, cancel);
        if (_end == 0)
        {
            throw new EndOfStreamException("the server closed the connection");
        }
    }
}
