//! The enumerations of call-log fields (`type`, `recordingType`, `transport`,
//! `action`, `result`, …): every value the spec lists, each open to values it
//! does not.

open_enum! {
    /// Call type.
    CallType {
        Voice = "Voice",
        Fax = "Fax",
    }
}

open_enum! {
    /// Recording type (the `recordingType` filter also accepts `All`).
    RecordingType {
        Automatic = "Automatic",
        OnDemand = "OnDemand",
        All = "All",
    }
}

open_enum! {
    /// `transport`.
    CallTransport {
        Pstn = "PSTN",
        VoIp = "VoIP",
    }
}

open_enum! {
    /// `delegationType`.
    DelegationType {
        Coworker = "Coworker",
        QueueForwarding = "QueueForwarding",
        Unknown = "Unknown",
    }
}

open_enum! {
    /// `internalType`.
    InternalType {
        Local = "Local",
        LongDistance = "LongDistance",
        International = "International",
        Sip = "Sip",
        RingMe = "RingMe",
        RingOut = "RingOut",
        Usual = "Usual",
        TollFreeNumber = "TollFreeNumber",
        VerificationNumber = "VerificationNumber",
        Vma = "Vma",
        LocalNumber = "LocalNumber",
        ImsOutgoing = "ImsOutgoing",
        ImsIncoming = "ImsIncoming",
        Unknown = "Unknown",
    }
}

open_enum! {
    /// `action`.
    CallAction {
        AcceptCall = "Accept Call",
        BargeInCall = "Barge In Call",
        CallPark = "Call Park",
        CallReturn = "Call Return",
        CallOutCallMe = "CallOut-CallMe",
        CallingCard = "Calling Card",
        ConferenceCall = "Conference Call",
        E911Update = "E911 Update",
        Emergency = "Emergency",
        ExternalApplication = "External Application",
        FindMe = "FindMe",
        FollowMe = "FollowMe",
        FreeSpdl = "FreeSPDL",
        Hunting = "Hunting",
        IncomingFax = "Incoming Fax",
        Monitoring = "Monitoring",
        Move = "Move",
        OutgoingFax = "Outgoing Fax",
        Paging = "Paging",
        ParkLocation = "Park Location",
        PhoneCall = "Phone Call",
        PhoneLogin = "Phone Login",
        Pickup = "Pickup",
        RcMeetings = "RC Meetings",
        RingDirectly = "Ring Directly",
        RingMe = "RingMe",
        RingOutMobile = "RingOut Mobile",
        RingOutPc = "RingOut PC",
        RingOutWeb = "RingOut Web",
        SipForwarding = "Sip Forwarding",
        Support = "Support",
        TextRelay = "Text Relay",
        Transfer = "Transfer",
        Unknown = "Unknown",
        VoIpCall = "VoIP Call",
        VoiceChatCall = "VoiceChat Call",
    }
}

open_enum! {
    /// `result` (note the odd casing of `Call connected`).
    CallResult {
        R911 = "911",
        R933 = "933",
        Abandoned = "Abandoned",
        Accepted = "Accepted",
        AnsweredNotAccepted = "Answered Not Accepted",
        Blocked = "Blocked",
        Busy = "Busy",
        CallFailed = "Call Failed",
        CallFailure = "Call Failure",
        CallConnected = "Call connected",
        CarrierIsNotActive = "Carrier is not active",
        Declined = "Declined",
        EdgeTrunkMisconfigured = "EDGE trunk misconfigured",
        FaxNotSent = "Fax Not Sent",
        FaxPartiallySent = "Fax Partially Sent",
        FaxPoorLine = "Fax Poor Line",
        FaxReceiptError = "Fax Receipt Error",
        FaxOnDemand = "Fax on Demand",
        HangUp = "Hang Up",
        IpPhoneOffline = "IP Phone Offline",
        InProgress = "In Progress",
        InternalError = "Internal Error",
        InternationalDisabled = "International Disabled",
        InternationalRestricted = "International Restricted",
        Missed = "Missed",
        NoAnswer = "No Answer",
        NoCallingCredit = "No Calling Credit",
        NotAllowed = "Not Allowed",
        PartialReceive = "Partial Receive",
        PhoneLogin = "Phone Login",
        ReceiveError = "Receive Error",
        Received = "Received",
        Rejected = "Rejected",
        Reply = "Reply",
        RestrictedNumber = "Restricted Number",
        SendError = "Send Error",
        Sent = "Sent",
        SentToVoicemail = "Sent to Voicemail",
        Stopped = "Stopped",
        SuspendedAccount = "Suspended account",
        Unknown = "Unknown",
        Voicemail = "Voicemail",
        WrongNumber = "Wrong Number",
        AnsweredElsewhere = "Answered Elsewhere",
        CallbackRequested = "Callback requested",
    }
}

open_enum! {
    /// `reason`.
    CallReason {
        Accepted = "Accepted",
        BadNumber = "Bad Number",
        CallLoop = "Call Loop",
        CallsNotAccepted = "Calls Not Accepted",
        CarrierIsNotActive = "Carrier is not active",
        Connected = "Connected",
        Customer611Restricted = "Customer 611 Restricted",
        EdgeTrunkMisconfigured = "EDGE trunk misconfigured",
        EmergencyAddressNotDefined = "Emergency Address not defined",
        FailedTryAgain = "Failed Try Again",
        FaxNotReceived = "Fax Not Received",
        FaxNotSent = "Fax Not Sent",
        FaxPartiallySent = "Fax Partially Sent",
        FaxPoorLine = "Fax Poor Line",
        FaxPrepareError = "Fax Prepare Error",
        FaxSaveError = "Fax Save Error",
        FaxSendError = "Fax Send Error",
        HangUp = "Hang Up",
        Info411Restricted = "Info 411 Restricted",
        InternalCallError = "Internal Call Error",
        InternalError = "Internal Error",
        InternationalDisabled = "International Disabled",
        InternationalRestricted = "International Restricted",
        LineBusy = "Line Busy",
        MaxCallLimit = "Max Call Limit",
        NoAnswer = "No Answer",
        NoCredit = "No Credit",
        NoDigitalLine = "No Digital Line",
        NotAnswered = "Not Answered",
        NumberBlocked = "Number Blocked",
        NumberDisabled = "Number Disabled",
        NumberNotAllowed = "Number Not Allowed",
        ReceiveError = "Receive Error",
        ResourceError = "Resource Error",
        RestrictedNumber = "Restricted Number",
        Stopped = "Stopped",
        TooManyCalls = "Too Many Calls",
        Unknown = "Unknown",
        WrongNumber = "Wrong Number",
    }
}

open_enum! {
    /// `legType`.
    LegType {
        SipForwarding = "SipForwarding",
        ServiceMinus2 = "ServiceMinus2",
        ServiceMinus3 = "ServiceMinus3",
        PstnToSip = "PstnToSip",
        Accept = "Accept",
        FindMe = "FindMe",
        FollowMe = "FollowMe",
        TestCall = "TestCall",
        FaxSent = "FaxSent",
        CallBack = "CallBack",
        CallingCard = "CallingCard",
        RingDirectly = "RingDirectly",
        RingOutWebToSubscriber = "RingOutWebToSubscriber",
        RingOutWebToCaller = "RingOutWebToCaller",
        SipToPstnMetered = "SipToPstnMetered",
        RingOutClientToSubscriber = "RingOutClientToSubscriber",
        RingOutClientToCaller = "RingOutClientToCaller",
        RingMe = "RingMe",
        TransferCall = "TransferCall",
        SipToPstnUnmetered = "SipToPstnUnmetered",
        RingOutDeviceToSubscriber = "RingOutDeviceToSubscriber",
        RingOutDeviceToCaller = "RingOutDeviceToCaller",
        RingOutOneLegToCaller = "RingOutOneLegToCaller",
        ExtensionToExtension = "ExtensionToExtension",
        CallPark = "CallPark",
        PagingServer = "PagingServer",
        Hunting = "Hunting",
        OutgoingFreeSpDl = "OutgoingFreeSpDl",
        ParkLocation = "ParkLocation",
        CallMeCallOut = "CallMeCallOut",
        ConferenceCall = "ConferenceCall",
        MobileApp = "MobileApp",
        MoveToConference = "MoveToConference",
        Unknown = "Unknown",
        MeetingsCall = "MeetingsCall",
        SilentMonitoring = "SilentMonitoring",
        Monitoring = "Monitoring",
        Pickup = "Pickup",
        ImsCall = "ImsCall",
        JoinCall = "JoinCall",
        TextRelay = "TextRelay",
        IvaCall = "IvaCall",
        VoiceChat = "VoiceChat",
    }
}
