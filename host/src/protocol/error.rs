//! The error every service answers with, whatever the protocol: each codec renders it in
//! its own shape (`{"__type", "message"}`, `<ErrorResponse>`, CBOR `{"__type", "message"}`).

/// An AWS error: the exception's code, a message, the HTTP status, and whose fault it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    /// The exception shape name (`ClusterNotFoundException`, `ValidationError`, …).
    pub code: String,
    pub message: String,
    /// 4xx for the caller's mistakes (never 5xx for bad input: clients retry those).
    pub status: u16,
    /// The caller is at fault (`Sender`) rather than the service (`Receiver`). awsQuery
    /// sends it as `<Type>`; query-compatible JSON and CBOR in `x-amzn-query-error`.
    pub sender_fault: bool,
}

impl ApiError {
    /// A 400 error that is the caller's fault.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::with_status(code, message, 400)
    }

    /// An error with its own status; statuses from 500 up are the service's fault.
    pub fn with_status(code: impl Into<String>, message: impl Into<String>, status: u16) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            status,
            sender_fault: status < 500,
        }
    }

    /// `InvalidParameterException`: a member has a bad value; the message names it.
    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new("InvalidParameterException", message)
    }

    /// `ValidationException`: the default for input that does not fit the operation.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new("ValidationException", message)
    }

    /// `ClientException`: the request cannot be served as asked.
    pub fn client(message: impl Into<String>) -> Self {
        Self::new("ClientException", message)
    }

    /// `SerializationException`: the body is not well-formed for its protocol.
    pub fn serialization(message: impl Into<String>) -> Self {
        Self::new("SerializationException", message)
    }

    /// `UnknownOperationException`: no service or operation answers this request.
    pub fn unknown_operation(message: impl Into<String>) -> Self {
        Self::new("UnknownOperationException", message)
    }

    /// `ServerException` (500): a fault of the host, never of the input.
    pub fn server(message: impl Into<String>) -> Self {
        Self::with_status("ServerException", message, 500)
    }

    /// `Sender` or `Receiver`, as awsQuery names the fault.
    pub fn fault(&self) -> &'static str {
        if self.sender_fault {
            "Sender"
        } else {
            "Receiver"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_follows_status() {
        assert_eq!(ApiError::new("A", "m").fault(), "Sender");
        assert_eq!(ApiError::server("m").fault(), "Receiver");
        let e = ApiError::with_status("ResourceNotFoundException", "gone", 404);
        assert!(e.sender_fault);
        assert_eq!(e.to_string(), "ResourceNotFoundException: gone");
    }
}
