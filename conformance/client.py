"""One persistent HTTP/1.1 connection per server, sending exactly the
header fields a case names (plus Host): http.client writes field values
as given, adds no Accept-Encoding, and knows HEAD and 304 have no body.
"""
import http.client

TIMEOUT_SECONDS = 10


class Client:
    def __init__(self, port):
        self.port = port
        self.connection = None

    def request(self, method, path, headers):
        """(status, response headers as a dict with lower-case names).  A
        connection the server closed is opened again once."""
        for attempt in (1, 2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection(
                    "127.0.0.1", self.port, timeout=TIMEOUT_SECONDS)
            try:
                self.connection.putrequest(method, path,
                                           skip_accept_encoding=True)
                for name, value in headers.items():
                    self.connection.putheader(name, value)
                self.connection.endheaders()
                response = self.connection.getresponse()
                response.read()
                fields = {k.lower(): v for k, v in response.getheaders()}
                if response.will_close:
                    self.close()
                return response.status, fields
            except (http.client.RemoteDisconnected, ConnectionError,
                    http.client.BadStatusLine):
                self.close()
                if attempt == 2:
                    raise

    def close(self):
        if self.connection is not None:
            self.connection.close()
            self.connection = None
