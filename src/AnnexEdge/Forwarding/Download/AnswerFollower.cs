using System.Globalization;
using System.Text;

namespace AnnexEdge.Forwarding.Download;

/// <summary>
/// Follows the answers on one backend connection from the bytes as they are received: each answer's head, and for a
/// content download (a 200 with <c>X-git-annex-data-length</c>) how many more bytes an honest backend still owes.
/// The body's framing (chunk sizes) is counted as body, so <see cref="Owed"/> is never more than the truth: a
/// receive that waits for that much always gets it from an honest backend.
/// </summary>
internal sealed class AnswerFollower
{
    /// <summary>More than this before the blank line is not a p2phttp answer: it is left unfollowed.</summary>
    public const int MaxHead = 64 * 1024;

    private static readonly byte[] DataLengthField = Encoding.ASCII.GetBytes("\r\nx-git-annex-data-length:");

    private readonly byte[] _head = new byte[MaxHead];
    private int _headLength;
    private bool _inHead;

    /// <summary>Bytes the current download still owes at least; 0 when there is no download to wait for.</summary>
    public long Owed { get; private set; }

    /// <summary>A request was sent: the next bytes are its answer's head.</summary>
    public void Request()
    {
        _inHead = true;
        _headLength = 0;
        Owed = 0;
    }

    public void Received(ReadOnlySpan<byte> bytes)
    {
        if (!_inHead)
        {
            // Past what was owed come the last chunk's framing or nothing: no waiting until the next request.
            Owed = Math.Max(0, Owed - bytes.Length);
            return;
        }

        var take = Math.Min(bytes.Length, MaxHead - _headLength);
        bytes[..take].CopyTo(_head.AsSpan(_headLength));
        var from = Math.Max(0, _headLength - 3);
        _headLength += take;
        var end = _head.AsSpan(from, _headLength - from).IndexOf("\r\n\r\n"u8);
        if (end < 0)
        {
            _inHead = _headLength < MaxHead;
            return;
        }

        var headEnd = from + end + 4;
        _inHead = false;
        Owed = DataLength(_head.AsSpan(0, headEnd));

        // The body bytes that came with the head.
        Received(bytes[(take - (_headLength - headEnd))..]);
    }

    /// <remarks>
    /// A hint for receive sizes only, read from the wire before HTTP parsing: what a download's length is, and that
    /// its body keeps to it, is decided from the parsed answer (<c>P2pAnswer.TryReadDataLength</c>,
    /// <see cref="DataLengthGuardStream"/>).
    /// </remarks>
    private static long DataLength(ReadOnlySpan<byte> head)
    {
        // Only a download's answer owes its data length; an interim answer (100 Continue) is not followed further.
        if (!head.StartsWith("HTTP/1.1 200 "u8))
        {
            return 0;
        }

        Span<byte> lower = stackalloc byte[Math.Min(head.Length, 4096)];
        lower = head.Length <= lower.Length ? lower[..head.Length] : new byte[head.Length];
        Ascii.ToLower(head, lower, out _);
        var at = lower.IndexOf(DataLengthField);
        if (at < 0)
        {
            return 0;
        }

        var value = head[(at + DataLengthField.Length)..];
        value = value[..value.IndexOf("\r\n"u8)].Trim(" \t"u8);
        return long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var length) ? length : 0;
    }
}
