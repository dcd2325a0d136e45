//! Reason codes, as numbers. The names and their order are mirrored in `engine/codes.ts`; both are
//! part of the public contract (CONTRACT §5), so a code is only ever appended, never renumbered.

pub const OK: u8 = 0;
pub const MISSING_FIELD: u8 = 1;
pub const TX_ID_FORMAT: u8 = 2;
pub const DUPLICATE_TX: u8 = 3;
pub const TIMESTAMP_INVALID: u8 = 4;
pub const TIMESTAMP_FUTURE: u8 = 5;
pub const AMOUNT_INVALID: u8 = 6;
pub const AMOUNT_NON_POSITIVE: u8 = 7;
pub const AMOUNT_PRECISION: u8 = 8;
pub const AMOUNT_RANGE: u8 = 9;
pub const CURRENCY_UNKNOWN: u8 = 10;
pub const DIRECTION_INVALID: u8 = 11;
pub const CHANNEL_UNKNOWN: u8 = 12;
pub const COUNTRY_UNKNOWN: u8 = 13;
pub const SORT_CODE_FORMAT: u8 = 14;
pub const ACCOUNT_NUMBER_FORMAT: u8 = 15;
pub const ACCOUNT_MODULUS: u8 = 16;
pub const IBAN_FORMAT: u8 = 17;
pub const IBAN_COUNTRY: u8 = 18;
pub const IBAN_LENGTH: u8 = 19;
pub const IBAN_BBAN_FORMAT: u8 = 20;
pub const IBAN_CHECKSUM: u8 = 21;
/// Added to the contract's list (compatible extension): a free-text field longer than its limit.
pub const FIELD_TOO_LONG: u8 = 22;
